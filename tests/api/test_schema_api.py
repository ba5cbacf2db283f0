"""The OpenAPI schema generates without warnings and documents every route and its errors."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

from tests.api.test_auth_api import api_urls


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_it_generates_and_validates_without_warnings(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_route_is_documented(schema):
    documented = {re.sub(r"\{[^}]+\}", "X", p) for p in schema["paths"]}
    for url in api_urls():
        if url.endswith(("/schema/", "/docs/", "/redoc/")):
            continue
        generic = url
        for sample in ("fraud-detector", "model.bin", "champion"):
            generic = generic.replace(sample, "X")
        generic = re.sub(r"/1(/|$)", r"/X\1", generic)
        assert generic in documented, url


def test_domain_errors_are_documented(schema):
    paths = schema["paths"]
    register = paths["/api/v1/models/{name}/versions/"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "413"} <= set(register)
    assert "multipart/form-data" in paths["/api/v1/models/{name}/versions/"]["post"]["requestBody"]["content"]
    transition = paths["/api/v1/models/{name}/versions/{ref}/transition/"]["post"]["responses"]
    assert "409" in transition
    download = paths["/api/v1/models/{name}/versions/{ref}/files/{path}"]["get"]["responses"]
    assert {"200", "206", "304", "416"} <= set(download)
    assert "application/octet-stream" in download["200"]["content"]
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "detail", "attr"}


def test_the_schema_and_viewers_are_served_offline(api, publisher):
    client = api(publisher)
    served = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200
    assert "/api/v1/models/" in json.loads(served.content)["paths"]
    for page, asset in [("/api/v1/docs/", "swagger-ui-bundle.js"), ("/api/v1/redoc/", "redoc.standalone.js")]:
        html = client.get(page).content.decode()
        match = re.search(r'src="/static/([^"]*' + re.escape(asset) + ')"', html)
        assert match, page
        assert finders.find(match.group(1)), match.group(1)  # shipped by the sidecar, not a CDN
        assert "cdn" not in match.group(0).lower()
