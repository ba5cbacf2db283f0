"""Roles and teams follow the provider's groups at every sign-in: gained, lost, recorded for Governance,
and effective at once for the user's browser session and API tokens alike."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from models_app import rules, services
from models_app.choices import AdminAccessChange, RequestStatus
from models_app.models import Approval, LedgerEntry, RoleSyncRecord
from models_app.services.tokens import api_token_create
from tests.conftest import register
from tests.sso.conftest import assert_refused, sign_in, sign_out, snapshot
from tests.ui.scenario import build_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def groups_of(username: str) -> list[str]:
    return sorted(User.objects.get(username=username).groups.values_list("name", flat=True))


def test_a_role_is_gained_and_lost_at_the_next_sign_in(page, sso, live_server):
    inbox = []
    page.on("response", lambda r: inbox.append(r.status) if r.url == f"{live_server.url}/" else None)

    # Bob's provider groups map to nothing: signed in, but on the registry's "no role" page.
    sign_in(page, "bob")
    assert inbox[-1] == 403
    assert rules.NO_ROLE_MESSAGE in page.locator("[role=alert]").inner_text()
    assert groups_of("bob") == []

    # Added to ml-reviewers at the provider: a Reviewer from the next sign-in on.
    sso.set_groups("bob", ["ml-reviewers"])
    sign_out(page)
    sign_in(page, "bob")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").is_visible()
    assert groups_of("bob") == ["Reviewers"]

    # Removed again: the role goes at the next sign-in, and the "no role" page is back.
    sso.set_groups("bob", [])
    sign_out(page)
    sign_in(page, "bob")
    assert rules.NO_ROLE_MESSAGE in page.locator("[role=alert]").inner_text()
    assert inbox[-1] == 403
    assert groups_of("bob") == []
    assert User.objects.get(username="bob").is_active  # kept, with no role

    records = list(
        RoleSyncRecord.objects.order_by("id").values_list(
            "account_created", "groups_added", "groups_removed", "provider_groups"
        )
    )
    assert records == [
        (True, [], [], []),
        (False, ["Reviewers"], [], ["ml-reviewers"]),
        (False, [], ["Reviewers"], []),
    ]


def test_a_reviewer_signed_in_through_the_provider_approves_a_request(page, sso, publisher, reviewer, team):
    scenario = build_scenario(publisher=publisher, reviewer=reviewer, team=team)
    sign_in(page, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    card = page.locator(f"#request-{scenario.request.pk}")
    card.get_by_label("Comment").fill("Checked the holdout numbers.")
    card.get_by_role("button", name="Approve").click()
    page.locator(f"#request-{scenario.request.pk}").get_by_role(
        "button", name="Approve: v3 to Production"
    ).click()
    page.locator(f"#request-{scenario.request.pk}").get_by_text("is now in Production").wait_for()

    alice = User.objects.get(oidc_identity__subject="u-1001")
    scenario.request.refresh_from_db()
    assert scenario.request.status == RequestStatus.APPROVED
    assert Approval.objects.get(transition_request=scenario.request).reviewer == alice
    row = LedgerEntry.objects.filter(transition_request=scenario.request, kind="approved").get()
    assert (row.actor, row.comment) == (alice, "Checked the holdout numbers.")


def pending_request(model, publisher):
    version = register(model, publisher)
    services.version_transition(version=version, to="staging", actor=publisher)
    return services.transition_request_create(version=version, to="production", actor=publisher)


def test_a_lost_role_stops_the_users_api_tokens_at_once(page, sso, publisher, reviewer, team):
    scenario = build_scenario(publisher=publisher, reviewer=reviewer, team=team)
    sign_in(page, "alice")
    alice = User.objects.get(oidc_identity__subject="u-1001")
    _, plaintext = api_token_create(user=alice, name="laptop")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    approved = api.post(f"/api/v1/transition-requests/{scenario.request.pk}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.content

    # Alice moves from reviewing to publishing at the provider; the token is the same token.
    second = pending_request(scenario.model, publisher)
    sso.set_groups("alice", ["ml-publishers", "ml-fraud"])
    sign_out(page)
    sign_in(page, "alice")
    assert groups_of(alice.username) == ["Publishers", "fraud-team"]
    ledger_rows = LedgerEntry.objects.count()
    refused = api.post(f"/api/v1/transition-requests/{second.pk}/approve/", {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "permission_denied"
    second.refresh_from_db()
    assert second.status == RequestStatus.PENDING
    assert not Approval.objects.filter(transition_request=second).exists()
    assert LedgerEntry.objects.count() == ledger_rows


def test_governance_through_the_provider_opens_the_admin_and_sees_every_role_change(page, sso, live_server):
    sign_in(page, "bob")  # one more user with a record to see
    sign_out(page)

    # The admin sends its sign-in to the registry's login page, and back to the admin afterwards.
    page.goto("/admin/")
    assert page.url == f"{live_server.url}/accounts/login/?next=/admin/"
    sign_in(page, "carol", path=page.url)
    assert page.url == f"{live_server.url}/admin/"
    carol = User.objects.get(username="carol")
    assert (carol.is_staff, groups_of("carol")) == (True, ["Governance"])

    page.goto("/admin/models_app/rolesyncrecord/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert "carol" in rows.nth(0).inner_text() and "Governance" in rows.nth(0).inner_text()
    assert "bob" in rows.nth(1).inner_text()
    assert page.get_by_role("link", name="Add role change from sign-in").count() == 0

    # Governance removed at the provider: at the next sign-in the role and the admin access go.
    sso.set_groups("carol", [])
    page.goto("/admin/")
    page.get_by_role("button", name="Log out").click()  # the admin's own logout button
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url("**/accounts/login/")
    sign_in(page, "carol")
    carol.refresh_from_db()
    assert (carol.is_staff, groups_of("carol")) == (False, [])
    last = RoleSyncRecord.objects.order_by("-id").first()
    assert (last.groups_removed, last.admin_access) == (["Governance"], AdminAccessChange.REVOKED)
    page.goto("/admin/")
    assert page.url.startswith(f"{live_server.url}/accounts/login/?next=/admin/")


def test_a_user_deactivated_in_the_registry_loses_session_and_tokens_and_cannot_sign_in_again(
    page, sso, governance, new_page
):
    sign_in(page, "alice")
    alice = User.objects.get(oidc_identity__subject="u-1001")
    _, plaintext = api_token_create(user=alice, name="laptop")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.get("/api/v1/models/").status_code == 200

    services.user_deactivate(user=alice, actor=governance, reason="left the company")
    assert api.get("/api/v1/models/").status_code == 401  # the token, at once
    page.goto("/")
    assert "/accounts/login/" in page.url  # the browser session, at once

    before = snapshot()
    other = new_page()
    sign_in(other, "alice")  # the provider still vouches for her: the registry says no
    message = assert_refused(other, "account_deactivated", before)
    assert "deactivated" in message
