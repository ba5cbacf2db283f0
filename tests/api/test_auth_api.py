"""Authentication: bearer tokens, session with CSRF, 401 for anonymous callers, 403 without a role."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.middleware.csrf import _get_new_csrf_string
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from models_app.models import ApiToken
from models_app.services.tokens import api_token_create
from tests.conftest import nothing_written, register

SAMPLE_KWARGS = {
    "name": "fraud-detector",
    "ref": "1",
    "path": "model.bin",
    "pk": "1",
    "alias": "champion",
    "delivery_id": "1",
    "upload_id": "1",
}


def api_urls() -> list[str]:
    """Every route under /api/v1/, with sample values for its parameters."""
    urls = []
    resolver = get_resolver()

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                for key, value in SAMPLE_KWARGS.items():
                    for converter in ("str", "int", "path"):
                        route = route.replace(f"<{converter}:{key}>", value)
                urls.append("/" + route)

    walk(resolver.url_patterns, "")
    return [u for u in urls if u.startswith("/api/v1/")]


def test_the_route_walk_sees_every_api_route():
    urls = api_urls()
    assert "/api/v1/models/fraud-detector/versions/1/files/model.bin" in urls
    assert len(urls) >= 20
    assert all("<" not in u for u in urls)


# Liveness and readiness answer everyone (docs/operations.md): load balancers probe them without credentials.
OPEN_PROBES = {"/api/v1/health/", "/api/v1/ready/"}


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_anonymous_callers_get_401_everywhere_but_health(registered_model, publisher, method):
    register(registered_model, publisher)  # so that the sample routes name a real model and version
    client = APIClient()
    with nothing_written():
        for url in api_urls():
            response = getattr(client, method)(url)
            if url in OPEN_PROBES:
                assert response.status_code in (200, 405), url
                continue
            assert response.status_code == 401, (method, url, response.status_code)
            assert response["WWW-Authenticate"] == "Bearer"
            if response["Content-Type"] == "application/json":  # the schema and its viewers render YAML/HTML
                assert response.json()["errors"][0]["code"] == "not_authenticated"


def test_health_is_open(db):
    assert APIClient().get("/api/v1/health/").json() == {"status": "ok"}


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_users_without_a_role_get_403_everywhere(api, norole, registered_model, publisher, method):
    register(registered_model, publisher)
    client = api(norole)
    with nothing_written():
        for url in api_urls():
            if url in OPEN_PROBES:
                continue
            response = getattr(client, method)(url)
            assert response.status_code == 403, (method, url, response.status_code)
            if response["Content-Type"] == "application/json":
                assert response.json()["errors"][0]["code"] == "permission_denied"


def test_bad_expired_and_revoked_tokens_are_refused(db, publisher, settings):
    # The expiry below is moved by a plain UPDATE, as another process would: without the token cache
    # (tests/api/test_auth_cache.py covers it) that takes effect on the next request.
    settings.REGISTRY_AUTH_CACHE_SECONDS = 0
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer mr_not-a-real-token")
    response = client.get("/api/v1/models/")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "authentication_failed"

    token, plaintext = api_token_create(user=publisher, name="ci", expires_in_days=1)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get("/api/v1/models/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/models/").status_code == 401

    token, plaintext = api_token_create(user=publisher, name="cd")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    token.revoked_at = timezone.now()
    token.save()
    assert client.get("/api/v1/models/").status_code == 401

    token, plaintext = api_token_create(user=publisher, name="deactivated")
    publisher.is_active = False
    publisher.save()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get("/api/v1/models/").status_code == 401


def test_session_writes_need_the_csrf_token(db, publisher, team, registered_model):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=publisher.username, password="pw-" + publisher.username)
    assert client.get("/api/v1/models/").status_code == 200
    body = {"name": "churn", "team": team.name}
    with nothing_written():
        refused = client.post("/api/v1/models/", body, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["errors"][0]["detail"]
    assert client.get("/api/v1/models/churn/").status_code == 404

    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    accepted = client.post("/api/v1/models/", body, format="json", HTTP_X_CSRFTOKEN=secret)
    assert accepted.status_code == 201, accepted.json()


def test_bearer_writes_need_no_csrf_token(api, publisher, team):
    client = api(publisher)
    client.enforce_csrf_checks = True
    assert (
        client.post("/api/v1/models/", {"name": "churn", "team": team.name}, format="json").status_code == 201
    )


def test_tokens_are_listed_created_once_and_revoked(api, publisher, reviewer):
    client = api(publisher)
    created = client.post("/api/v1/tokens/", {"name": "deploy", "expires_in_days": 30}, format="json")
    assert created.status_code == 201, created.json()
    plaintext = created.json()["token"]
    assert plaintext.startswith("mr_")
    assert created.json()["expires_at"] is not None
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert "deploy" in [t["name"] for t in listed]
    assert all("token" not in t for t in listed)
    with nothing_written():
        duplicate = client.post("/api/v1/tokens/", {"name": "deploy"}, format="json")
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["attr"] == "name"
    assert (
        client.post("/api/v1/tokens/", {"name": "x", "expires_in_days": 0}, format="json").status_code == 400
    )

    deploy = APIClient()
    deploy.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert deploy.get("/api/v1/models/").status_code == 200
    token_id = created.json()["id"]
    reviewer_client = api(reviewer)
    with nothing_written():
        assert reviewer_client.delete(f"/api/v1/tokens/{token_id}/").status_code == 404  # not theirs
    assert client.delete(f"/api/v1/tokens/{token_id}/").status_code == 204
    assert client.get(f"/api/v1/tokens/{token_id}/").json()["usable"] is False
    assert deploy.get("/api/v1/models/").status_code == 401


def test_create_api_token_prints_the_token_once(db, publisher):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_token",
        publisher.username,
        "--name",
        "ci",
        "--expires-in-days",
        "7",
        stdout=out,
        stderr=err,
    )
    plaintext = out.getvalue().strip()
    assert plaintext.startswith("mr_")
    assert "shown only once" in err.getvalue()
    token = ApiToken.objects.get(user=publisher, name="ci")
    assert token.token_hash != plaintext and plaintext not in token.token_hash
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get("/api/v1/models/").status_code == 200

    call_command("create_api_token", publisher.username, stdout=io.StringIO(), stderr=io.StringIO())
    assert ApiToken.objects.filter(user=publisher).count() == 2
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "ghost", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="name"):
        call_command(
            "create_api_token", publisher.username, "--name", "ci", stdout=io.StringIO(), stderr=io.StringIO()
        )


def test_every_error_has_the_one_shape(api, publisher, registered_model):
    register(registered_model, publisher)
    client = api(publisher)
    with nothing_written():
        responses = [
            client.get("/api/v1/models/nope/"),
            client.post("/api/v1/models/", {"name": 3}, format="json"),
            client.post("/api/v1/models/", b"{bad json", content_type="application/json"),
            client.put("/api/v1/models/"),
            client.post(
                "/api/v1/models/fraud-detector/versions/1/transition/", {"to": "production"}, format="json"
            ),
        ]
    assert [r.status_code for r in responses] == [404, 400, 400, 405, 409]
    for response in responses:
        body = response.json()
        assert set(body) == {"type", "errors"}
        assert body["type"] in ("validation_error", "client_error")
        for error in body["errors"]:
            assert set(error) == {"code", "detail", "attr"}
            assert error["code"] and error["detail"]
