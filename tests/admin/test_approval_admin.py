"""The admin and the approval rules: nothing in it moves the Production version or a protected alias
directly (stages and aliases are read-only there), and retirement and alias requests are decided with
the same action as promotions, through the same service."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_app import services
from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.models import LedgerEntry, ModelAlias, ModelVersion
from tests.conftest import make_user, nothing_written, promote, register


def url(name, *args):
    return reverse(f"admin:models_app_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def decide(client, *requests, comment=""):
    data = {
        "action": "approve_selected",
        "_selected_action": [r.pk for r in requests],
        "comment": comment,
        "apply": "1",
    }
    return client.post(url("transitionrequest_changelist"), data, follow=True)


@pytest.fixture
def staff_reviewer(role_groups):
    return make_user("rex-staffreviewer", role_groups["Reviewers"], role_groups["Governance"], is_staff=True)


@pytest.fixture
def live(registered_model, publisher, reviewer, governance):
    """v1 in Production carrying the protected @champion, v2 ready without a stage."""
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    services.promotion_policy_set(
        registered_model=registered_model, actor=governance, protected_aliases=["champion"]
    )
    return v1, v2


def test_a_posted_version_or_alias_change_moves_neither_stage_nor_alias(client, superuser, live):
    client.force_login(superuser)
    v1, v2 = live
    alias = ModelAlias.objects.get(name="champion")
    with nothing_written():
        client.post(
            url("modelversion_change", v1.pk),
            {"description": v1.description, "tags": "{}", "stage": "archived"},
        )
        response = client.post(url("modelalias_change", alias.pk), {"version": v2.pk, "name": "champion"})
        assert response.status_code == 403
        delete = client.post(url("modelalias_delete", alias.pk), {"post": "yes"})
        assert delete.status_code == 403
    assert ModelVersion.objects.get(pk=v1.pk).stage == Stage.PRODUCTION
    assert ModelAlias.objects.get(name="champion").version_id == v1.pk


def test_retirement_and_alias_requests_are_approved_with_the_admin_action(
    client, staff_reviewer, live, publisher
):
    v1, v2 = live
    retire = services.transition_request_create(version=v1, to="archived", actor=publisher, comment="Drift.")
    move = services.transition_request_create(version=v2, to="@champion", actor=publisher)
    client.force_login(staff_reviewer)
    listing = client.get(url("transitionrequest_changelist"))
    assert listing.status_code == 200 and b"@champion" in listing.content
    response = decide(client, retire, move, comment="Checked in the admin.")
    messages = messages_of(response)
    assert any(f"Request #{retire.pk}" in m and "is approved" in m for m in messages), messages
    assert any(f"Request #{move.pk}" in m and "is approved" in m for m in messages), messages
    for req in (retire, move):
        req.refresh_from_db()
        assert req.status == RequestStatus.APPROVED
    v1.refresh_from_db()
    assert v1.stage == Stage.ARCHIVED
    assert ModelAlias.objects.get(name="champion").version_id == v2.pk
    rows = LedgerEntry.objects.filter(
        transition_request__in=[retire, move], kind__in=[LedgerKind.APPROVED, LedgerKind.ALIAS_SET]
    )
    assert {(r.kind, r.actor_username) for r in rows} == {
        (LedgerKind.APPROVED, staff_reviewer.username),
        (LedgerKind.ALIAS_SET, staff_reviewer.username),
    }


def test_the_requester_cannot_approve_their_retirement_in_the_admin(client, role_groups, live, team):
    lead = make_user("lea-lead", role_groups["Publishers"], role_groups["Reviewers"], team, is_staff=True)
    lead.groups.add(role_groups["Governance"])
    retire = services.transition_request_create(version=live[0], to="archived", actor=lead, comment="Drift.")
    client.force_login(lead)
    with nothing_written():
        response = decide(client, retire)
    assert any(
        "You requested this transition, so you cannot approve or reject it" in m
        for m in messages_of(response)
    )
    live[0].refresh_from_db()
    assert live[0].stage == Stage.PRODUCTION
