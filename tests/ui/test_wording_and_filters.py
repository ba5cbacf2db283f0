"""Wording, filters and small page details: decisions in the past tense, "No stage", "just now", bad
filters shown as errors, the model's last change, and the webhooks form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from models_app import services
from models_app.ui import presenters
from tests.conftest import register

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_a_rejection_reads_rejected_on_the_request_cards(login, scenario, reviewer, publisher):
    services.transition_request_reject(transition_request=scenario.request, actor=reviewer, comment="no")
    html = _html(login(reviewer).get("/approvals/?status=rejected"))
    card = html.split(f'id="request-{scenario.request.pk}"')[1].split("</article>")[0]
    assert re.search(r"</span> Rejected</span> by rita-reviewer", card)
    assert "Rejectd" not in html
    version_page = _html(login(reviewer).get("/models/fraud-detector/versions/3/"))
    assert "Rejected by rita-reviewer" in version_page
    assert "rejectd" not in version_page.lower()


@pytest.mark.parametrize(
    ("decision", "label"), [("approve", "Approved"), ("reject", "Rejected"), ("other", "other")]
)
def test_decision_labels(decision, label):
    assert presenters.decision_label(decision) == label


def test_moving_out_of_staging_says_no_stage(login, scenario, publisher):
    client = login(publisher)
    url = reverse("models_app:modelversion-transition", args=["fraud-detector", 3])
    response = client.post(url, {"to": "none", "comment": ""}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["v3 moved to No stage."]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "just now"), (59, "just now"), (-5, "just now"), (60, "1 minute ago"), (3 * 3600 + 300, "3 hours")],
)
def test_time_ago_never_says_zero_minutes(seconds, text):
    now = timezone.now()
    assert presenters.time_ago(now - timedelta(seconds=seconds), now).replace("\xa0", " ").startswith(text)


def test_a_fresh_request_was_made_just_now(login, scenario, reviewer):
    html = _html(login(reviewer).get("/"))
    assert "just now" in html
    assert "0 minutes" not in html


def test_an_invalid_audit_filter_is_an_error_and_lists_nothing(login, scenario, reviewer):
    response = login(reviewer).get("/audit/", {"version": "abc"})
    html = _html(response)
    alert = html.split('id="filter-errors"')[1].split("</div>")[0]
    assert "not applied" in alert
    assert (
        "Version" in alert
        and "“abc”" in alert
        and "Enter a whole number written with the digits 0-9." in alert
    )
    assert 'aria-describedby="id_version_error"' in html and 'id="id_version_error"' in html
    assert list(response.context["rows"]) == []
    # A valid filter still lists its rows, with no error.
    response = login(reviewer).get("/audit/", {"version": "3"})
    assert 'id="filter-errors"' not in _html(response)
    assert {row.version.version for row in response.context["rows"]} == {3}


def test_an_invalid_approvals_filter_is_an_error_too(login, scenario, reviewer):
    response = login(reviewer).get("/approvals/", {"status": "bogus"})
    html = _html(response)
    assert 'id="filter-errors"' in html and "“bogus”" in html
    assert list(response.context["requests"]) == []


@pytest.mark.parametrize("path", ["/audit/", "/approvals/", "/models/"])
def test_filter_selects_offer_any_rather_than_dashes(login, scenario, reviewer, path):
    html = _html(login(reviewer).get(path))
    assert "-----" not in html
    if path != "/models/":
        assert re.search(r'<option value=""( selected)?>Any</option>', html)


def test_the_audit_time_inputs_are_wide_enough_for_a_time(login, scenario, reviewer, settings):
    html = _html(login(reviewer).get("/audit/"))
    for name in ("since", "until"):
        field = html.split(f'<input type="datetime-local" name="{name}"')[0].rsplit('<div class="', 1)[1]
        assert field.startswith("field field--inline field--datetime")
    css = (settings.BASE_DIR / "static/models_app/registry.css").read_text()
    assert re.search(r"\.filters \.field--datetime \{ min-width: 15rem;", css)


def test_the_models_updated_time_includes_stage_changes(login, scenario, publisher, reviewer):
    model = scenario.model
    long_ago = timezone.now() - timedelta(days=30)
    type(model).objects.filter(pk=model.pk).update(updated_at=long_ago)
    v4 = register(model, publisher)
    services.version_transition(version=v4, to="staging", actor=publisher)
    moved_at = v4.transitions.order_by("-id").first().created_at
    detail = _html(login(reviewer).get("/models/fraud-detector/"))
    updated = detail.split('id="model-updated">')[1].split("</dd>")[0]
    assert moved_at.strftime("%Y-%m-%d %H:%M") in updated
    listing = login(reviewer).get("/models/")
    (row,) = list(listing.context["models"])
    assert row.last_change_at == moved_at
    assert moved_at.strftime("%Y-%m-%d %H:%M") in listing.content.decode()


def test_the_webhooks_page_has_a_styled_form(login, scenario, publisher):
    html = _html(login(publisher).get("/models/fraud-detector/webhooks/"))
    form = html.split('class="webhook-form"')[1].split("</form>")[0]
    assert re.search(r'<input type="url" name="url" id="id_url"', form)
    assert '<label class="checkbox" for="id_event_types_0">' in form
    assert "<legend>For</legend>" in form
    assert "<div><label" not in form  # not Django's bare as_div rendering
