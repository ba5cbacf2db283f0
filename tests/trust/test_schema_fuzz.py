"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis, through WSGI).

Every operation gets a bounded number of generated requests, sent with a real bearer token of a user
who holds every role. No answer may be a 5xx, every answer must match the schema (a documented
status code, the documented content type, and a body of the documented shape), and a refused write
(any 4xx to a POST, PUT, PATCH or DELETE) must have written nothing.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from models_app import services
from models_app.services.tokens import api_token_create
from tests.conftest import make_user, promote, register, written_state

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def bearer(role_groups, team, db):
    """A user in every role and the team, so generated requests reach the services, not just the 403."""
    user = make_user(
        "fuzz-all-roles", role_groups["Publishers"], role_groups["Reviewers"], role_groups["Governance"], team
    )
    reviewer = make_user("fuzz-reviewer", role_groups["Reviewers"])
    model = services.registered_model_create(name="fraud-detector", team=team, actor=user)
    promote(register(model, user), user, reviewer)
    register(model, user)
    return {"Authorization": f"Bearer {api_token_create(user=user, name='fuzz')[1]}"}


def load_schema():
    """The same document /api/v1/schema/ serves (generated in-process: serving it needs a role)."""
    raw = json.loads(
        json.dumps(SchemaGenerator().get_schema(request=None, public=True), cls=DjangoJSONEncoder)
    )
    loaded = schemathesis.openapi.from_dict(raw)
    loaded.app = get_wsgi_application()
    return loaded


schema = load_schema()


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Django closes the database connection after each WSGI request; the test client avoids that, and
    schemathesis' WSGI client must too, or the test's transaction would vanish mid-test."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_the_fuzzed_schema_is_the_served_one(bearer, client):
    served = client.get("/api/v1/schema/?format=json", HTTP_AUTHORIZATION=bearer["Authorization"])
    assert served.status_code == 200
    assert sorted(served.json()["paths"]) == sorted(schema.raw_schema["paths"])


@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_fails_and_always_matches_its_schema(case, bearer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100000/minute", "anon": "100000/minute"},
    }
    writes = case.method.upper() not in ("GET", "HEAD", "OPTIONS")
    before = written_state() if writes else None
    response = case.call(headers=bearer)
    case.validate_response(response, checks=CHECKS, headers=bearer)
    if writes and 400 <= response.status_code < 500:
        assert written_state() == before, (case.method, case.formatted_path, response.status_code)
