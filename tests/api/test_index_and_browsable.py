"""``/api/v1/`` answers an index of the API, and a signed-in browser gets DRF's browsable pages while
API clients keep getting JSON."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import register

pytestmark = pytest.mark.django_db


def test_the_index_links_the_resources_the_schema_and_the_docs(api, publisher):
    response = api(publisher).get("/api/v1/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    base = "http://testserver/api/v1/"
    assert body["schema"] == base + "schema/"
    assert body["docs"] == base + "docs/"
    assert body["redoc"] == base + "redoc/"
    assert body["resources"]["models"] == base + "models/"
    assert body["resources"]["transition_requests"] == base + "transition-requests/"
    assert body["resources"]["audit"] == base + "audit/"
    assert body["templates"]["version"] == base + "models/{name}/versions/{ref}/"
    # Every link answers (the probes and the docs included), so the index never points nowhere.
    client = api(publisher)
    for url in [*body["resources"].values(), body["schema"], body["docs"], body["redoc"]]:
        assert client.get(url.removeprefix("http://testserver")).status_code == 200, url


def test_the_index_needs_a_registry_user_like_every_resource(api, norole):
    assert api(None).get("/api/v1/").status_code == 401
    assert api(norole).get("/api/v1/").status_code == 403


def test_a_signed_in_browser_gets_the_browsable_api(registered_model, publisher):
    register(registered_model, publisher)
    browser = Client()
    browser.force_login(publisher)
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for path in ("/api/v1/", "/api/v1/models/", "/api/v1/models/fraud-detector/versions/1/"):
        response = browser.get(path, HTTP_ACCEPT=accept)
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        assert "Django REST framework" in html
        assert "fraud-detector" in html or path == "/api/v1/"
        # Read-only pages: no write forms for the version's PATCH, no raw-data editor.
        assert 'id="put-object-form"' not in html and 'id="post-object-form"' not in html
        assert "_content_type" not in html
    # The same URL without an HTML Accept header is JSON, for API clients and curl.
    assert browser.get("/api/v1/models/")["Content-Type"] == "application/json"
    assert browser.get("/api/v1/models/", HTTP_ACCEPT="*/*")["Content-Type"] == "application/json"


def test_an_error_in_a_browser_keeps_the_status_and_the_error_shape(publisher):
    browser = Client()
    browser.force_login(publisher)
    response = browser.get("/api/v1/models/no-such-model/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert "not_found" in response.content.decode()
