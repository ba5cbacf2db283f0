"""schemathesis over the whole OpenAPI schema (the one /api/v1/schema/ serves), in positive *and*
negative mode, against the application in-process: no generated request may answer 5xx.
(tests/trust/test_schema_fuzz.py checks positive cases against the response schemas too.)

Bounded for CI: a few examples per operation and mode, and an overall time budget; the figures are
printed (``-s``) so a run shows how much it tried.
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from models_app.services.tokens import api_token_create
from tests.conftest import make_user, register

EXAMPLES = 10
BUDGET_SECONDS = 120


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Django closes the database connection after each WSGI request, which would end the test's
    transaction mid-test; the test client avoids that, and so must this in-process WSGI handler."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def everyone(role_groups, team):
    """A user holding every role, so that generated requests get past permissions to the input checks."""
    return make_user("sam-all-roles", *role_groups.values(), team, is_staff=True)


# Path parameters that name what exists, for a second positive pass that gets past the lookups.
KNOWN = {"name": "fraud-detector", "ref": "1", "path": "model.bin"}


def _runner(operation, mode, app, headers: dict, calls: dict, failures: list, path_parameters=None):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case):
        response = case.call(app=app, headers=headers)
        calls[mode] += 1
        calls.setdefault(response.status_code // 100 * 100, 0)
        calls[response.status_code // 100 * 100] += 1
        if response.status_code >= 500:
            failures.append(
                f"{mode} {operation.method.upper()} {case.formatted_path} {case.query!r} "
                f"{str(case.body)[:200]!r} -> {response.status_code}"
            )

    return run


def test_no_generated_request_answers_a_server_error(everyone, publisher, registered_model, capsys):
    register(registered_model, publisher)
    register(registered_model, publisher)
    _, token = api_token_create(user=everyone, name="schemathesis")
    document = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))
    schema = schemathesis.openapi.from_dict(document)
    app = WSGIHandler()
    headers = {"Authorization": f"Bearer {token}", "Host": "testserver"}
    failures: list[str] = []
    calls = {GenerationMode.POSITIVE: 0, GenerationMode.NEGATIVE: 0}
    operations = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        names = {parameter.name for parameter in operation.path_parameters}
        known = {k: v for k, v in KNOWN.items() if k in names}
        passes = [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        if known:
            passes += [(GenerationMode.POSITIVE, known), (GenerationMode.NEGATIVE, known)]
        for mode, fixed in passes:
            if time.monotonic() - started > BUDGET_SECONDS:
                break
            cache.clear()  # the per-token throttle would otherwise answer 429 to the later operations
            with contextlib.suppress(Unsatisfiable):  # negative mode may have nothing to negate
                _runner(operation, mode, app, headers, calls, failures, fixed)()
    with capsys.disabled():
        print(
            f"\nschemathesis: {operations} operations, {calls[GenerationMode.POSITIVE]} positive and "
            f"{calls[GenerationMode.NEGATIVE]} negative requests in {time.monotonic() - started:.0f}s, "
            f"{len(failures)} server errors; by status class: "
            f"{ {k: v for k, v in calls.items() if isinstance(k, int)} }"
        )
    assert operations > 30
    assert calls[GenerationMode.POSITIVE] > operations and calls[GenerationMode.NEGATIVE] > 0
    assert calls.get(200, 0) > operations  # plenty of requests got past every check
    assert failures == [], "\n".join(failures[:20])
