"""Walk every URL pattern (API, UI, admin) and check that anonymous callers and a user with no role are
refused. A route added later is walked too, so it cannot slip through without a permission check."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from models_app import services
from models_app.services.tokens import api_token_create
from tests.conftest import nothing_written, register

# Routes anyone may reach: liveness and readiness probes, signing in and out (the admin's login and
# logout lead to the registry's; the identity provider's start and callback pages). Everything else needs a role.
PUBLIC = {
    "api:health",
    "api:ready",
    "login",
    "logout",
    "admin-login",
    "admin-logout",
    "admin:login",
    "admin:logout",
    "admin:password_reset",
    "sso:authenticate",
    "sso:callback",
}
METHODS = ("get", "post", "put", "patch", "delete")

SAMPLES = {
    "name": "fraud-detector",
    "ref": "1",
    "path": "model.bin",
    "alias": "champion",
    "pk": "1",
    "id": "1",
    "object_id": "1",
    "app_label": "models_app",
    "content_type_id": "1",
    "uidb64": "MQ",
    "token": "set-password",
    "url": "x",
}


def walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{namespace}{entry.name}" if entry.name else None


def concrete(route: str, samples: dict | None = None) -> str:
    """A path for the route with each parameter filled by a sample that exists in the fixture data."""
    samples = {**SAMPLES, **(samples or {})}
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: samples.get(m.group(1), "1"), route)
    if route.startswith("^"):  # admin regex routes (app_list)
        route = route.lstrip("^").rstrip("$")
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: samples.get(m.group(1), "1"), route)
    return "/" + route


def all_routes():
    seen = {}
    for route, name in walk(get_resolver().url_patterns):
        seen.setdefault(concrete(route), (route, name))
    return sorted(seen.values(), key=lambda r: concrete(r[0]))


ROUTES = all_routes()


def test_the_walk_covers_the_api_and_the_admin():
    paths = [concrete(route) for route, _ in ROUTES]
    assert any(p.startswith("/api/v1/models/") for p in paths)
    assert any(p.startswith("/admin/models_app/") for p in paths)
    assert len(paths) > 40


@pytest.fixture
def world(registered_model, publisher, reviewer):
    """Objects behind every sample id, so a refusal cannot hide behind a 404."""
    v1 = register(registered_model, publisher)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    services.version_transition(version=v1, to="staging", actor=publisher)
    req = services.transition_request_create(version=v1, to="production", actor=publisher)
    token, _ = api_token_create(user=publisher, name="sample")
    # Ids differ between databases (PostgreSQL sequences are not reset between tests).
    return {"pk": str(req.pk), "id": str(req.pk), "object_id": str(req.pk), "token_id": str(token.pk)}


def refused(response, login_urls=("/accounts/login/", "/admin/login/")) -> bool:
    if response.status_code in (401, 403, 405):
        return True
    if response.status_code in (302, 303):
        return response["Location"].split("?")[0].endswith(login_urls)
    return False


def call(client, method, path):
    return getattr(client, method)(path, data={} if method == "get" else None, format="json")


def open_doors(clients, samples) -> list[str]:
    """Every (method, route) that one of ``clients`` was let through."""
    doors = []
    for route, name in ROUTES:
        if name in PUBLIC:
            continue
        path = concrete(route, samples)
        for label, client in clients.items():
            for method in METHODS:
                response = call(client, method, path)
                if not refused(response):
                    doors.append(f"{label} {method.upper()} {path} ({name}) -> {response.status_code}")
    return doors


def test_anonymous_callers_are_refused_everywhere(world):
    with nothing_written():
        assert open_doors({"anonymous": APIClient()}, world) == []


def test_users_without_a_role_are_refused_everywhere(world, norole):
    session = APIClient()
    session.force_login(norole)
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=norole, name='walk')[1]}")
    with nothing_written():
        assert open_doors({"no-role session": session, "no-role token": bearer}, world) == []


def test_the_walk_would_notice_an_open_door(world, settings):
    """The checker itself: a route answering 200 to anyone is reported."""
    from django.http import HttpResponse
    from django.urls import clear_url_caches, path

    import registry_site.urls as root

    settings.ROOT_URLCONF = type(
        "OpenDoorURLs", (), {"urlpatterns": [path("oops/", lambda r: HttpResponse("open"), name="oops")]}
    )
    clear_url_caches()
    try:
        response = APIClient().get("/oops/")
        assert response.status_code == 200 and not refused(response)
    finally:
        clear_url_caches()
    assert root.urlpatterns


def test_the_public_routes_answer_anonymous_callers(db):
    client = APIClient()
    assert client.get("/api/v1/health/").status_code == 200
    assert client.get("/admin/login/").status_code == 200
