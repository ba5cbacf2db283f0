"""The permission matrix: every write, called by an anonymous caller, each role, and an outsider.

The services decide; these tests prove the API passes their answers through (401/403/2xx) and
that a refused write changes nothing.
"""

from __future__ import annotations

import contextlib

import pytest

from models_app import services
from models_app.models import LedgerEntry
from tests.api.conftest import post_version
from tests.conftest import nothing_written, register

PERSONAS = ["anonymous", "norole", "publisher", "outsider", "reviewer", "governance"]


def _staged(model, publisher):
    version = register(model, publisher)
    services.version_transition(version=version, to="staging", actor=publisher)
    return version


def _requested(model, publisher):
    version = _staged(model, publisher)
    return services.transition_request_create(version=version, to="production", actor=publisher)


def _former_production(model, publisher, reviewer):
    from tests.conftest import promote

    promote(register(model, publisher), publisher, reviewer)
    promote(register(model, publisher), publisher, reviewer)


# name: (setup(model, publisher, reviewer) -> context, call(client, context) -> response, allowed personas)
WRITES = {
    "create-model": (
        lambda m, p, r: None,
        lambda c, ctx: c.post("/api/v1/models/", {"name": "churn", "team": "fraud-team"}, format="json"),
        {"publisher": 201},
    ),
    "edit-model": (
        lambda m, p, r: None,
        lambda c, ctx: c.patch("/api/v1/models/fraud-detector/", {"description": "New."}, format="json"),
        {"publisher": 200, "governance": 200},
    ),
    "govern-model": (
        lambda m, p, r: None,
        lambda c, ctx: c.patch("/api/v1/models/fraud-detector/", {"required_approvals": 2}, format="json"),
        {"governance": 200},
    ),
    "register-version": (
        lambda m, p, r: None,
        lambda c, ctx: post_version(c, "fraud-detector", [("m.bin", b"1")], {}),
        {"publisher": 201},
    ),
    "edit-version": (
        lambda m, p, r: register(m, p),
        lambda c, ctx: c.patch(
            "/api/v1/models/fraud-detector/versions/1/", {"tags": {"a": "b"}}, format="json"
        ),
        {"publisher": 200, "governance": 200},
    ),
    "move-to-staging": (
        lambda m, p, r: register(m, p),
        lambda c, ctx: c.post(
            "/api/v1/models/fraud-detector/versions/1/transition/", {"to": "staging"}, format="json"
        ),
        {"publisher": 200},
    ),
    "archive": (
        lambda m, p, r: register(m, p),
        lambda c, ctx: c.post(
            "/api/v1/models/fraud-detector/versions/1/transition/", {"to": "archived"}, format="json"
        ),
        {"reviewer": 200},
    ),
    "request-production": (
        lambda m, p, r: _staged(m, p),
        lambda c, ctx: c.post(
            "/api/v1/transition-requests/", {"model": "fraud-detector", "version": 1}, format="json"
        ),
        {"publisher": 201},
    ),
    "approve": (
        lambda m, p, r: _requested(m, p),
        lambda c, ctx: c.post(f"/api/v1/transition-requests/{ctx.pk}/approve/", {}, format="json"),
        {"reviewer": 200},  # the publisher is the requester: self-approval is refused
    ),
    "reject": (
        lambda m, p, r: _requested(m, p),
        lambda c, ctx: c.post(f"/api/v1/transition-requests/{ctx.pk}/reject/", {}, format="json"),
        {"reviewer": 200},
    ),
    "cancel": (
        lambda m, p, r: _requested(m, p),
        lambda c, ctx: c.post(f"/api/v1/transition-requests/{ctx.pk}/cancel/", {}, format="json"),
        {"publisher": 200},
    ),
    "rollback": (
        _former_production,
        lambda c, ctx: c.post(
            "/api/v1/models/fraud-detector/rollback/", {"version": 1, "reason": "drift"}, format="json"
        ),
        {"reviewer": 200},
    ),
    "set-alias": (
        lambda m, p, r: register(m, p),
        lambda c, ctx: c.put(
            "/api/v1/models/fraud-detector/aliases/champion/", {"version": 1}, format="json"
        ),
        {"publisher": 200, "reviewer": 200},
    ),
    "delete-alias": (
        lambda m, p, r: services.alias_set(
            registered_model=m, alias="champion", version_number=register(m, p).version, actor=p
        ),
        lambda c, ctx: c.delete("/api/v1/models/fraud-detector/aliases/champion/"),
        {"publisher": 204, "reviewer": 204},
    ),
    "create-token": (
        lambda m, p, r: None,
        lambda c, ctx: c.post("/api/v1/tokens/", {"name": "matrix"}, format="json"),
        {"publisher": 201, "outsider": 201, "reviewer": 201, "governance": 201},
    ),
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("write", list(WRITES))
def test_permission_matrix(request, api, registered_model, publisher, reviewer, write, persona):
    setup, call, allowed = WRITES[write]
    context = setup(registered_model, publisher, reviewer)
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    client = api(user)
    expected = 401 if persona == "anonymous" else allowed.get(persona, 403)
    ledger_before = LedgerEntry.objects.count()
    with nothing_written() if expected >= 400 else contextlib.nullcontext():
        response = call(client, context)
    assert response.status_code == expected, (write, persona, response.content[:300])
    if expected >= 400:
        assert LedgerEntry.objects.count() == ledger_before  # a refused write leaves no trace
        body = response.json()
        assert body["errors"][0]["code"] in {
            "not_authenticated",
            "permission_denied",
            "self_approval_forbidden",
        }
