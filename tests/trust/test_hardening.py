"""Security headers, production settings, login lockout and API throttling."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from models_app.services.tokens import api_token_create

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "registry.example.com",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_PRELOAD": "1",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_BEHIND_TLS_PROXY": "1",
}


def parse_csp(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def test_production_settings_pass_the_deploy_check():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "PYTEST"))}
    env.update(PRODUCTION_ENV, DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_a_missing_secret_key():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "PYTEST"))}
    env.update(PRODUCTION_ENV)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_pages_carry_the_security_headers(client, db):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = parse_csp(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]


def test_api_answers_carry_the_headers_too(client, db):
    response = client.get(reverse("api:health"))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_hsts_is_sent_over_https_only(client, db, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    plain = client.get(reverse("api:health"))
    assert "Strict-Transport-Security" not in plain
    tls = client.get(reverse("api:health"), secure=True)
    assert tls["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_ssl_redirect_spares_the_health_probe(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("api:health")).status_code == 200
    redirected = client.get(reverse("admin:login"))
    assert redirected.status_code == 301 and redirected["Location"].startswith("https://")


# -- login lockout --------------------------------------------------------------------------------------


def attempt(client, username, password):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"}
    )


def test_repeated_wrong_passwords_lock_the_login(client, governance, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert attempt(client, governance.username, "wrong").status_code == 200
    assert attempt(client, governance.username, "wrong").status_code == 429
    # Locked: even the right password is refused now.
    locked = attempt(client, governance.username, "pw-" + governance.username)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_does_not_touch_api_tokens_or_other_users(client, governance, reviewer, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        attempt(client, governance.username, "wrong")
    assert attempt(client, governance.username, "pw-" + governance.username).status_code == 429
    _, plaintext = api_token_create(user=governance, name="ci")
    api = client.get(reverse("api:audit-verify"), HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.status_code == 200
    other = attempt(client, reviewer.username, "pw-" + reviewer.username)
    assert other.status_code in (200, 302)  # reviewers are not staff; the form answers, no lockout


def test_a_successful_login_resets_the_count(client, governance, settings):
    settings.AXES_FAILURE_LIMIT = 3
    attempt(client, governance.username, "wrong")
    attempt(client, governance.username, "wrong")
    assert attempt(client, governance.username, "pw-" + governance.username).status_code == 302
    client.logout()
    attempt(client, governance.username, "wrong")
    attempt(client, governance.username, "wrong")
    assert attempt(client, governance.username, "pw-" + governance.username).status_code == 302


def test_the_test_client_login_still_works(client, governance):
    assert client.login(username=governance.username, password="pw-" + governance.username)
    assert client.get(reverse("admin:index")).status_code == 200


# -- API throttling -------------------------------------------------------------------------------------


def set_rate(settings, rate, anon="1000/minute"):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": rate, "anon": anon},
    }


def test_each_token_has_its_own_budget_and_a_clear_429(client, reviewer, settings):
    set_rate(settings, "3/minute")
    _, first = api_token_create(user=reviewer, name="pipeline-a")
    _, second = api_token_create(user=reviewer, name="pipeline-b")
    url = reverse("api:audit-verify")
    for _ in range(3):
        assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {first}").status_code == 200
    refused = client.get(url, HTTP_AUTHORIZATION=f"Bearer {first}")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    body = refused.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == "throttled"
    assert "throttled" in body["errors"][0]["detail"].lower()
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200


def test_session_users_are_throttled_per_user(client, reviewer, settings):
    set_rate(settings, "2/minute")
    client.force_login(reviewer)
    url = reverse("api:audit-verify")
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]


def test_anonymous_callers_are_throttled_by_address(db, settings):
    """Protected views answer anonymous callers 401 before any throttle; public DRF views are throttled."""
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    class PublicView(APIView):
        permission_classes = [AllowAny]

        def get(self, request):
            return Response({"ok": True})

    set_rate(settings, "1000/minute", anon="2/minute")
    factory = APIRequestFactory()
    view = PublicView.as_view()
    codes = [view(factory.get("/public/", REMOTE_ADDR="192.0.2.7")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert view(factory.get("/public/", REMOTE_ADDR="192.0.2.8")).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_only_the_docs_pages_get_the_relaxed_policy(client, reviewer, path):
    from registry_site.security import DOCS_PATH_PREFIXES

    assert path in DOCS_PATH_PREFIXES
    client.force_login(reviewer)
    response = client.get(path)
    assert response.status_code == 200
    policy = parse_csp(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
