"""Passwords beside the provider: REGISTRY_PASSWORD_LOGIN=0 leaves them to the break-glass superuser
alone, in the reviewer UI and the admin alike; django-axes still locks out repeated wrong passwords."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.test import RequestFactory

from models_app import rules
from tests.sso.conftest import PROVIDER_NAME, switch_on

# Password sign-ins never reach the provider, so none runs for these tests: an issuer nobody answers
# for proves it (the endpoints are only looked up when a provider sign-in starts).
UNREACHABLE_ISSUER = "https://idp.invalid"


def post_login(client, username, password, path="/accounts/login/", next_url="/"):
    return client.post(path, {"username": username, "password": password, "next": next_url})


@pytest.fixture
def password_off(settings, superuser):
    switch_on(settings, UNREACHABLE_ISSUER, password_login=False, break_glass_user=superuser.username)


def test_with_password_login_on_everyone_signs_in_while_the_provider_is_down(client, settings, reviewer):
    switch_on(settings, UNREACHABLE_ISSUER)
    response = post_login(client, reviewer.username, "pw-rita-reviewer")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(reviewer.pk)


def test_with_password_login_off_everyone_else_gets_a_clear_refusal(client, password_off, reviewer):
    response = post_login(client, reviewer.username, "pw-rita-reviewer")
    assert response.status_code == 200
    assert rules.PASSWORD_SIGN_IN_OFF_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not AccessAttempt.objects.exists()  # refused before any password was compared
    # The same answer for a name nobody has: it tells nothing about which accounts exist.
    unknown = post_login(client, "nobody-here", "whatever")
    assert rules.PASSWORD_SIGN_IN_OFF_MESSAGE in unknown.content.decode()


def test_the_break_glass_name_only_works_for_a_superuser(client, settings, reviewer):
    switch_on(settings, UNREACHABLE_ISSUER, password_login=False, break_glass_user=reviewer.username)
    response = post_login(client, reviewer.username, "pw-rita-reviewer")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_password_gate_holds_for_any_caller_of_authenticate(password_off, reviewer, superuser):
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username=reviewer.username, password="pw-rita-reviewer") is None
    assert authenticate(request, username=superuser.username, password="pw-sam") == superuser


def test_the_admin_login_is_the_registrys(client, password_off, reviewer):
    page = client.get("/admin/login/?next=/admin/models_app/ledgerentry/")
    assert page.status_code == 302
    assert page["Location"] == "/accounts/login/?next=/admin/models_app/ledgerentry/"
    # Its form is not there to post to either: a POST is sent to the same page.
    posted = post_login(
        client, reviewer.username, "pw-rita-reviewer", path="/admin/login/", next_url="/admin/"
    )
    assert posted.status_code == 302 and posted["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    # A foreign next is dropped.
    assert (
        client.get("/admin/login/?next=https://evil.example/")["Location"] == "/accounts/login/?next=/admin/"
    )


def test_the_admin_keeps_its_own_login_without_a_provider(client, db):
    page = client.get("/admin/login/")
    assert page.status_code == 200 and 'id="login-form"' in page.content.decode()


def test_lockout_still_counts_wrong_passwords_with_a_provider(client, settings, reviewer):
    switch_on(settings, UNREACHABLE_ISSUER)
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert post_login(client, reviewer.username, "wrong").status_code == 200
    assert post_login(client, reviewer.username, "wrong").status_code == 429
    locked = post_login(client, reviewer.username, "pw-rita-reviewer")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_break_glass_superuser_signs_in_with_a_password(page, password_off, superuser, live_server):
    page.goto("/admin/")
    assert page.url == f"{live_server.url}/accounts/login/?next=/admin/"
    assert page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").is_visible()
    # The password form is folded away behind its summary.
    assert not page.get_by_label("Username").is_visible()
    page.get_by_text("Break-glass sign-in with a password").click()
    page.get_by_label("Username").fill(superuser.username)
    page.get_by_label("Password").fill("pw-sam")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{live_server.url}/admin/")
    assert page.get_by_role("heading", name="Governance").is_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_anyone_else_sees_why_the_password_form_refuses(page, password_off, reviewer, live_server):
    page.goto("/accounts/login/")
    page.get_by_text("Break-glass sign-in with a password").click()
    page.get_by_label("Username").fill(reviewer.username)
    page.get_by_label("Password").fill("pw-rita-reviewer")
    page.get_by_role("button", name="Sign in", exact=True).click()
    alert = page.get_by_role("alert")
    assert rules.PASSWORD_SIGN_IN_OFF_MESSAGE in alert.inner_text()
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
