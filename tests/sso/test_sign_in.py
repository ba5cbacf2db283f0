"""Full sign-ins in Chromium through the real provider: the code flow with PKCE, state and nonce, users
matched by subject, groups from the ID token or userinfo, sign-out through the provider's end_session."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group, User

from models_app.models import OIDCIdentity, RoleSyncRecord
from tests.sso.conftest import PROVIDER_NAME, provider_login, sign_in, sign_out, start_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def header_user(page) -> str:
    return page.locator(".user-menu__name").inner_text()


def test_a_full_sign_in_and_sign_out_through_the_provider(page, sso, live_server):
    sso.tweak(skipConsent=False)  # the whole flow, the provider's consent page included
    page.goto("/")
    assert page.url == f"{live_server.url}/accounts/login/?next=/"
    start_sign_in(page, path=page.url)
    provider_login(page, "alice")
    page.get_by_role("heading", name="Authorize").wait_for()  # the provider asks for consent
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{live_server.url}/")

    # Back in the registry, on the inbox (alice's provider groups map to Reviewers and fraud-team).
    assert page.url == f"{live_server.url}/"
    assert header_user(page) == "alice"
    alice = User.objects.get(username="alice")
    assert sorted(alice.groups.values_list("name", flat=True)) == ["Reviewers", "fraud-team"]
    assert (alice.email, alice.first_name, alice.has_usable_password()) == (
        "alice@example.test",
        "Alice Doe",
        False,
    )
    identity = OIDCIdentity.objects.get(user=alice)
    assert (identity.issuer, identity.subject) == (sso.issuer, "u-1001")
    assert identity.last_claims["groups"] == ["ml-reviewers", "ml-fraud", "unmapped-group"]
    record = RoleSyncRecord.objects.get()
    assert (record.username, record.subject, record.account_created) == ("alice", "u-1001", True)
    assert (record.groups_added, record.groups_removed) == (["Reviewers", "fraud-team"], [])

    # What went over the wire: the authorization code flow with PKCE (S256), a state and a nonce.
    (authorization,) = page.authorization_urls
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorization).query).items()}
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["state"] and params["nonce"]
    assert params["redirect_uri"] == f"{live_server.url}/oidc/callback/"
    assert set(params["scope"].split()) == {"openid", "email", "profile"}
    (callback,) = page.callback_urls
    answer = parse_qs(urlsplit(callback).query)
    assert answer["state"] == [params["state"]] and answer["code"]

    # Sign-out ends the registry session, then the provider's (its end_session page), back to login.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_selector("text=Sign out of the test provider?")
    assert page.url.startswith(f"{sso.issuer}/session/end")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    page.goto("/")
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
    # The provider's session is gone too: signing in again asks for the password (no silent sign-in).
    start_sign_in(page)
    page.wait_for_selector("text=Sign in to the test provider")


def test_the_login_page_offers_the_provider_beside_the_password_form(page, sso):
    page.goto("/accounts/login/")
    button = page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}")
    assert button.get_attribute("href") == "/oidc/authenticate/"
    assert page.get_by_label("Username").is_visible()  # password login stays on unless turned off


def test_users_are_matched_by_subject_not_by_email(page, sso):
    local = User.objects.create_user("alice", email="alice@example.test", password="local-pw-123")
    sign_in(page)
    # A new account beside the local one, never the local one taken over.
    oidc_user = User.objects.get(oidc_identity__subject="u-1001")
    assert oidc_user.pk != local.pk and oidc_user.username.startswith("alice-")
    assert header_user(page) == oidc_user.username
    assert not local.groups.exists()

    # The same subject with a new address is still the same user.
    sso.update("alice", email="alice.new@example.test")
    sign_out(page)
    sign_in(page)
    oidc_user.refresh_from_db()
    assert oidc_user.email == "alice.new@example.test"
    assert User.objects.count() == 2


@pytest.mark.parametrize("groups_in", ["id_token", "userinfo"])
def test_groups_are_read_from_the_id_token_or_userinfo(page, sso, groups_in):
    sso.tweak(groupsIn=groups_in)
    sign_in(page)
    assert header_user(page) == "alice"
    assert sorted(User.objects.get(username="alice").groups.values_list("name", flat=True)) == [
        "Reviewers",
        "fraud-team",
    ]


def test_password_users_sign_out_locally(page, sso, reviewer, live_server):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(reviewer.username)
    page.get_by_label("Password").fill("pw-rita-reviewer")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")  # no detour through the provider


def test_a_provider_without_end_session_signs_out_locally(page, sso, live_server):
    sso.tweak(discoveryOverrides={"end_session_endpoint": None})
    sign_in(page)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    page.goto("/")
    assert "/accounts/login/" in page.url


def test_groups_outside_the_map_are_left_alone(page, sso):
    sign_in(page)
    alice = User.objects.get(username="alice")
    alice.groups.add(Group.objects.create(name="locally-managed"))
    sso.set_groups("alice", [])
    sign_out(page)
    sign_in(page)
    assert list(alice.groups.values_list("name", flat=True)) == ["locally-managed"]
