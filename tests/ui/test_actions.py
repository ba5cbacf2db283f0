"""POSTs from the pages: every write goes through services; refusals are 403s or clear messages."""

import pytest
from django.test import Client
from django.urls import reverse

from models_app import services
from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.models import Approval, LedgerEntry, TransitionRequest
from tests.conftest import nothing_written, register

pytestmark = pytest.mark.django_db


def approve_url(req):
    return reverse("models_app:transitionrequest-approve", args=[req.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_a_reviewer_approves_with_a_comment_and_production_moves(login, scenario, reviewer):
    response = login(reviewer).post(
        approve_url(scenario.request), {"comment": "AUC gain holds.", "confirm": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("models_app:transitionrequest-list")
    assert any("v3 is now in Production" in m for m in messages_of(response))
    scenario.candidate.refresh_from_db()
    scenario.production.refresh_from_db()
    assert scenario.candidate.stage == Stage.PRODUCTION
    assert scenario.production.stage == Stage.ARCHIVED
    row = LedgerEntry.objects.filter(version=scenario.candidate, kind=LedgerKind.APPROVED).get()
    assert row.comment == "AUC gain holds."
    assert row.actor_username == reviewer.username


def test_next_returns_to_the_page_the_decision_was_made_on(login, scenario, reviewer):
    page = reverse("models_app:modelversion-detail", args=["fraud-detector", 3])
    response = login(reviewer).post(approve_url(scenario.request), {"next": page, "confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == page


def test_next_never_leaves_the_site(login, scenario, reviewer):
    response = login(reviewer).post(
        approve_url(scenario.request), {"next": "https://evil.example/", "confirm": "yes"}
    )
    assert response["Location"] == reverse("models_app:transitionrequest-list")


def test_a_reviewer_rejects_and_the_request_closes(login, scenario, reviewer):
    url = reverse("models_app:transitionrequest-reject", args=[scenario.request.pk])
    response = login(reviewer).post(url, {"comment": "Latency regressed.", "confirm": "yes"}, follow=True)
    assert any("Rejected request" in m for m in messages_of(response))
    scenario.request.refresh_from_db()
    assert scenario.request.status == RequestStatus.REJECTED
    assert Approval.objects.get(transition_request=scenario.request).comment == "Latency regressed."


def test_a_publishers_forged_approval_is_refused_with_403(login, scenario, publisher, outsider, governance):
    for user in (publisher, outsider, governance):
        client = login(user)
        for action in ("approve", "reject"):
            url = reverse(f"models_app:transitionrequest-{action}", args=[scenario.request.pk])
            with nothing_written():
                response = client.post(url, {"comment": "sneaky"})
            assert response.status_code == 403
            assert b"Only Reviewers can approve or reject" in response.content
    assert not Approval.objects.filter(transition_request=scenario.request).exists()
    scenario.request.refresh_from_db()
    assert scenario.request.status == RequestStatus.PENDING


def test_a_requester_who_also_reviews_cannot_approve_their_own_request(login, scenario, publisher_reviewer):
    v4 = register(scenario.model, publisher_reviewer)
    services.version_transition(version=v4, to="staging", actor=publisher_reviewer)
    req = services.transition_request_create(version=v4, to="production", actor=publisher_reviewer)
    client = login(publisher_reviewer)
    page = client.get(reverse("models_app:modelversion-detail", args=["fraud-detector", 4])).content.decode()
    assert approve_url(req) not in page
    assert "You requested this promotion, so another reviewer must decide." in page
    with nothing_written():
        response = client.post(approve_url(req), {"comment": "self"}, follow=True)
    assert response.status_code == 200
    assert "You requested this transition, so you cannot approve or reject it; another reviewer must." in (
        response.content.decode()
    )
    assert not Approval.objects.filter(transition_request=req).exists()


def test_deciding_an_already_decided_request_shows_a_message(login, scenario, reviewer, reviewer2):
    services.transition_request_approve(transition_request=scenario.request, actor=reviewer)
    client = login(reviewer2)
    with nothing_written():
        response = client.post(approve_url(scenario.request), follow=True)
    assert response.status_code == 200
    assert f"Request #{scenario.request.pk} is already approved." in messages_of(response)


def test_the_requester_cancels_and_others_cannot(login, scenario, publisher, publisher2):
    url = reverse("models_app:transitionrequest-cancel", args=[scenario.request.pk])
    client = login(publisher2)
    with nothing_written():
        response = client.post(url, follow=True)
    assert "Only the requester can cancel a transition request." in messages_of(response)
    response = login(publisher).post(url, follow=True)
    assert f"Cancelled request #{scenario.request.pk}." in messages_of(response)
    scenario.request.refresh_from_db()
    assert scenario.request.status == RequestStatus.CANCELLED


def test_csrf_is_enforced_on_actions(scenario, reviewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    with nothing_written():
        assert client.post(approve_url(scenario.request), {"comment": "x"}).status_code == 403
    assert not Approval.objects.filter(transition_request=scenario.request).exists()


# -- htmx ----------------------------------------------------------------------------------------------------


def test_an_htmx_approval_returns_the_refreshed_card_only(login, scenario, reviewer):
    response = login(reviewer).post(
        approve_url(scenario.request), {"comment": "ok", "confirm": "yes"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<article class="request-card')
    assert f'id="request-{scenario.request.pk}"' in html
    assert "badge--status-approved" in html
    assert "v3 is now in Production" in html  # the message travels inside the card
    assert approve_url(scenario.request) not in html  # decided: no buttons any more
    assert TransitionRequest.objects.get(pk=scenario.request.pk).status == RequestStatus.APPROVED


def test_an_htmx_refusal_shows_the_message_inside_the_card(login, scenario, publisher_reviewer):
    v4 = register(scenario.model, publisher_reviewer)
    services.version_transition(version=v4, to="staging", actor=publisher_reviewer)
    req = services.transition_request_create(version=v4, to="production", actor=publisher_reviewer)
    client = login(publisher_reviewer)
    with nothing_written():
        response = client.post(approve_url(req), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "message--error" in html and "you cannot approve or reject it" in html
    assert "badge--status-pending" in html


def test_messages_shown_in_an_htmx_card_do_not_reappear_on_the_next_page(login, scenario, reviewer):
    client = login(reviewer)
    client.post(approve_url(scenario.request), {"confirm": "yes"}, headers={"HX-Request": "true"})
    assert b"is now in Production" not in client.get("/").content


# -- stage moves, requests, rollback ------------------------------------------------------------------------


def test_a_publisher_stages_a_version_and_requests_production(login, scenario, publisher):
    v4 = register(scenario.model, publisher)
    client = login(publisher)
    url = reverse("models_app:modelversion-transition", args=["fraud-detector", 4])
    response = client.post(url, {"to": "staging", "comment": "candidate"}, follow=True)
    assert "v4 moved to Staging." in messages_of(response)
    v4.refresh_from_db()
    assert v4.stage == Stage.STAGING
    url = reverse("models_app:modelversion-request", args=["fraud-detector", 4])
    response = client.post(url, {"comment": "please"}, follow=True)
    req = TransitionRequest.objects.get(version=v4)
    assert req.comment == "please" and req.requested_by == publisher
    assert any(f"request #{req.pk}" in m for m in messages_of(response))


def test_an_illegal_move_is_a_message_not_an_error(login, scenario, publisher):
    url = reverse("models_app:modelversion-transition", args=["fraud-detector", 2])  # Production
    client = login(publisher)
    with nothing_written():
        response = client.post(url, {"to": "staging"}, follow=True)
    assert response.status_code == 200
    # Leaving Production is never a direct move: the message says how to request it.
    assert any(
        "v2 of 'fraud-detector' is in Production; moving it out needs an approved request" in m
        and '"to": "archived"' in m
        for m in messages_of(response)
    )


def test_a_publisher_cannot_archive_and_a_bad_target_names_the_field(login, scenario, publisher):
    url = reverse("models_app:modelversion-transition", args=["fraud-detector", 3])
    client = login(publisher)
    with nothing_written():
        response = client.post(url, {"to": "archived"}, follow=True)
    assert "Only Reviewers can archive versions." in messages_of(response)
    with nothing_written():
        response = client.post(url, {"to": "production"}, follow=True)
    assert any(m.startswith("Move to: Select a valid choice.") for m in messages_of(response))
    scenario.candidate.refresh_from_db()
    assert scenario.candidate.stage == Stage.STAGING


def test_other_teams_cannot_request_or_move(login, scenario, outsider):
    client = login(outsider)
    with nothing_written():
        request = client.post(reverse("models_app:modelversion-request", args=["fraud-detector", 3]))
        move = client.post(
            reverse("models_app:modelversion-transition", args=["fraud-detector", 3]), {"to": "none"}
        )
    assert (request.status_code, move.status_code) == (403, 403)


def test_a_reviewer_rolls_back_with_a_reason(login, scenario, reviewer):
    url = reverse("models_app:modelversion-rollback", args=["fraud-detector", 1])
    response = login(reviewer).post(url, {"reason": ""}, follow=True)
    assert "Reason: A reason is required to roll back." in messages_of(response)
    response = login(reviewer).post(url, {"reason": "v2 misroutes EU traffic", "confirm": "yes"}, follow=True)
    assert "Rolled back: v1 is in Production again." in messages_of(response)
    row = LedgerEntry.objects.get(version=scenario.archived, kind=LedgerKind.ROLLBACK)
    assert row.comment == "v2 misroutes EU traffic"


def test_publishers_cannot_roll_back(login, scenario, publisher):
    url = reverse("models_app:modelversion-rollback", args=["fraud-detector", 1])
    client = login(publisher)
    with nothing_written():
        assert client.post(url, {"reason": "x"}).status_code == 403
    assert not LedgerEntry.objects.filter(kind=LedgerKind.ROLLBACK).exists()
