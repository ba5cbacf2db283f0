"""The retire flow and the no-Production warnings in the reviewer UI (plain forms, no JavaScript)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_app import services
from models_app.choices import RequestStatus, Stage
from models_app.models import TransitionRequest
from tests.conftest import nothing_written

pytestmark = pytest.mark.django_db

RETIRE = reverse("models_app:modelversion-retire", args=["fraud-detector", 2])
V2 = reverse("models_app:modelversion-detail", args=["fraud-detector", 2])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def retirements():
    return TransitionRequest.objects.filter(target_stage=Stage.ARCHIVED)


def test_the_production_version_offers_request_retirement_not_a_stage_form(login, scenario, reviewer):
    page = login(reviewer).get(V2).content.decode()
    assert 'id="transition-to"' not in page
    assert 'id="retire-form"' in page and "Request retirement" in page
    # Other versions keep the stage form, with nothing preselected.
    staging = login(reviewer).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 3]))
    assert '<option value="" selected disabled>Choose a stage</option>' in staging.content.decode()


def test_the_first_step_asks_for_confirmation_and_writes_nothing(login, scenario, publisher):
    client = login(publisher)
    with nothing_written():
        response = client.post(RETIRE, {"comment": "Drifted."})
    assert response.status_code == 200
    text = response.content.decode()
    assert "v2 leaves Production" in text
    assert "fraud-detector will have no Production version" in text
    assert 'name="confirmed" value="on"' in text and ">Drifted.</textarea>" in text


def test_the_confirmed_step_files_the_request(login, scenario, publisher):
    response = login(publisher).post(RETIRE, {"comment": "Drifted.", "confirmed": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == V2
    req = retirements().get()
    assert (req.status, req.comment, req.requested_by) == (RequestStatus.PENDING, "Drifted.", publisher)
    assert any(f"request #{req.pk}" in m for m in messages_of(response))
    again = login(publisher).post(RETIRE, {"comment": "Again.", "confirmed": "on"}, follow=True)
    assert any("already has a pending request" in m for m in messages_of(again))
    assert retirements().count() == 1


def test_without_a_reason_nothing_is_requested(login, scenario, publisher):
    client = login(publisher)
    with nothing_written():
        first = client.post(RETIRE, {"comment": ""}, follow=True)
        confirmed = client.post(RETIRE, {"comment": " ", "confirmed": "on"}, follow=True)
    for response in (first, confirmed):
        assert any("A reason is required" in m for m in messages_of(response)), messages_of(response)


def test_others_cannot_request_a_retirement(login, scenario, outsider, governance):
    for user in (outsider, governance):
        with nothing_written():
            assert login(user).post(RETIRE, {"comment": "x", "confirmed": "on"}).status_code == 403


def test_the_model_page_and_list_warn_while_there_is_no_production_version(
    login, scenario, publisher, reviewer, reviewer2, team
):
    model_url = reverse("models_app:registeredmodel-detail", args=["fraud-detector"])
    list_url = reverse("models_app:registeredmodel-list")
    client = login(reviewer)
    assert 'id="no-production-notice"' not in client.get(model_url).content.decode()
    assert "No Production version" not in client.get(list_url).content.decode()

    retire = services.transition_request_create(
        version=scenario.production, to="archived", actor=publisher, comment="Drifted."
    )
    services.transition_request_approve(transition_request=retire, actor=reviewer)
    page = client.get(model_url).content.decode()
    assert "fraud-detector has no Production version." in page
    assert "No Production version" in client.get(list_url).content.decode()

    # A model without versions is not warned about.
    services.registered_model_create(name="empty-model", team=team, actor=publisher)
    empty = client.get(reverse("models_app:registeredmodel-detail", args=["empty-model"])).content.decode()
    assert 'id="no-production-notice"' not in empty
    listing = client.get(list_url).content.decode()
    assert "empty-model" in listing
    assert listing.count("no-production") == 1  # fraud-detector's warning only
