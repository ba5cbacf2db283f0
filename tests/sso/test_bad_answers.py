"""Bad answers from the provider end on the error page with their reason, and create or change nothing:
no user, identity, group membership, role record or session. Each is provoked at the real provider."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from tests.sso.conftest import (
    assert_refused,
    provider_login,
    sign_in,
    sign_out,
    snapshot,
    start_sign_in,
    switch_on,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_id_token_from_another_issuer(page, sso, settings):
    # The registry expects http://localhost:<port>, and the discovery document says so too, but the
    # provider signs its ID tokens as http://127.0.0.1:<port>.
    expected = sso.issuer.replace("127.0.0.1", "localhost")
    sso.tweak(advertiseIssuer=expected)
    switch_on(settings, expected)
    before = snapshot()
    sign_in(page)
    message = assert_refused(page, "wrong_issuer", before)
    assert sso.issuer in message and expected in message


def test_a_discovery_document_of_another_issuer(page, sso, settings):
    switch_on(settings, sso.issuer.replace("127.0.0.1", "localhost"))
    before = snapshot()
    start_sign_in(page)
    message = assert_refused(page, "provider_unavailable", before)
    assert "names the issuer" in message


def test_a_mis_signed_id_token(page, sso):
    sso.tweak(wrongJwks=True)  # the published key (same kid) is not the one that signed the token
    before = snapshot()
    sign_in(page)
    message = assert_refused(page, "bad_signature", before)
    assert "signature" in message


def test_an_expired_id_token(page, sso):
    sso.tweak(clockSkew=-600, idTokenTtl=60)  # issued ten minutes ago, valid for one, beyond the leeway
    before = snapshot()
    sign_in(page)
    message = assert_refused(page, "expired_id_token", before)
    assert "expired" in message


def test_a_missing_groups_claim_creates_no_user(page, sso):
    before = snapshot()
    sign_in(page, "nogroups")
    message = assert_refused(page, "missing_groups_claim", before)
    assert "'groups' claim" in message
    assert not User.objects.filter(email="ng@example.test").exists()


def test_a_missing_groups_claim_leaves_an_existing_user_as_they_were(page, sso):
    sign_in(page)
    sign_out(page)
    sso.set_groups("alice", None)
    sso.update("alice", name="Alice Renamed", email="renamed@example.test")
    before = snapshot()
    sign_in(page)
    assert_refused(page, "missing_groups_claim", before)
    alice = User.objects.get(username="alice")
    assert sorted(alice.groups.values_list("name", flat=True)) == ["Reviewers", "fraud-team"]
    assert (alice.first_name, alice.email) == ("Alice Doe", "alice@example.test")


def test_a_replayed_answer_in_the_same_browser(page, sso, live_server):
    sign_in(page)
    callback = page.callback_urls[-1]
    before = snapshot()
    page.goto(callback)  # the same code and state once more
    page.wait_for_selector("#sso-error-code")
    assert page.locator("#sso-error-code").inner_text() == "unknown_state"
    assert snapshot() == before
    page.goto("/")
    assert page.locator(".user-menu__name").inner_text() == "alice"  # still signed in, as before


def test_a_replayed_answer_in_another_browser(page, sso, new_page):
    sign_in(page)
    callback = page.callback_urls[-1]
    before = snapshot()
    attacker = new_page()
    attacker.goto(callback)
    assert_refused(attacker, "unknown_state", before)


def test_a_refused_consent(page, sso):
    sso.tweak(skipConsent=False)
    before = snapshot()
    start_sign_in(page)
    provider_login(page, "alice")
    page.get_by_role("link", name="Deny").click()
    message = assert_refused(page, "provider_error", before)
    assert "access_denied" in message


def test_pkce_is_what_the_provider_insists_on(page, sso, settings):
    settings.OIDC_USE_PKCE = False  # the provider requires PKCE of every client
    before = snapshot()
    start_sign_in(page)
    message = assert_refused(page, "provider_error", before)
    assert re.search(r"code_challenge|PKCE", message)


def test_a_provider_that_cannot_be_reached(page, sso, settings):
    switch_on(settings, "http://127.0.0.1:9")  # the discard port: nothing listens
    before = snapshot()
    start_sign_in(page)
    message = assert_refused(page, "provider_unavailable", before)
    assert "could not read" in message


def test_a_refused_answer_leaves_no_id_token_behind(page, sso, reviewer, live_server):
    """The library would store the ID token in the session before the user is matched; a refused
    answer must not leave it for a later sign-out to hand to the provider."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(reviewer.username)
    page.get_by_label("Password").fill("pw-rita-reviewer")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{live_server.url}/")
    sign_in(page, "nogroups")  # refused after the token was verified
    page.wait_for_selector("#sso-error-code")
    visited = []
    page.on("request", lambda r: visited.append(r.url))
    page.goto("/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    assert not [url for url in visited if url.startswith(sso.issuer)]  # signed out locally only
