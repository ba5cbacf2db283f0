"""Purges and legal holds through the API: Governance only, a reason required, the purge rules as 409s,
downloads of a purged version as 410 ``version_purged``, and holds shown in the representations."""

from __future__ import annotations

import pytest

from models_app import services
from models_app.choices import LedgerKind, Stage
from models_app.models import ArtifactFile, LedgerEntry, LegalHold, ModelVersion
from tests.conftest import promote, register, stored_keys

MODEL = "/api/v1/models/fraud-detector/"
V = MODEL + "versions/{}/"


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """POST as JSON, running what the service defers to after its commit (a purge deletes the bytes then),
    as a committed request would."""

    def send(client, url, data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, format="json")

    return send


@pytest.fixture
def lineup(registered_model, publisher, reviewer):
    """v1 Archived (was Production), v2 in Production with @champion."""
    v1 = register(registered_model, publisher, files={"weights/model.bin": b"w" * 2048})
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=2, actor=publisher)
    return v1, v2


def snapshot(storage):
    return (
        sorted(ModelVersion.objects.values_list("version", "status", "stage")),
        LedgerEntry.objects.count(),
        sorted(LegalHold.objects.values_list("id", "released_at")),
        stored_keys(storage),
    )


def error(response):
    body = response.json()
    assert body["type"] in ("client_error", "validation_error"), body
    return body["errors"][0]


def test_governance_purges_and_downloads_answer_410(api, any_storage, lineup, governance, publisher, post):
    keys = set(ArtifactFile.objects.filter(version=lineup[0]).values_list("storage_key", flat=True))
    response = post(api(governance), V.format(1) + "purge/", {"reason": "Training data withdrawn."})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["stage"], body["held"]) == ("purged", "archived", False)
    assert "Training data withdrawn." in body["status_reason"]
    # The file records stay: path, size and SHA-256.
    assert [(f["path"], f["size"]) for f in body["files"]] == [("weights/model.bin", 2048)]
    assert len(body["files"][0]["sha256"]) == 64
    assert not keys & set(stored_keys(any_storage))
    row = LedgerEntry.objects.filter(kind=LedgerKind.PURGED).get()
    assert (row.actor, row.details["bytes_freed"]) == (governance, 2048)

    client = api(publisher)
    for method in ("get", "head"):
        download = getattr(client, method)(V.format(1) + "files/weights/model.bin")
        assert download.status_code == 410, download.content
        if method == "get":
            assert error(download)["code"] == "version_purged"
    detail = client.get(V.format(1)).json()
    assert detail["status"] == "purged"


def test_the_purge_rules_answer_409_and_write_nothing(api, any_storage, lineup, governance, publisher, post):
    client = api(governance)
    before = snapshot(any_storage)
    refused = post(client, V.format(2) + "purge/", {"reason": "x"})
    assert refused.status_code == 409
    assert error(refused)["code"] == "purge_protected" and "Production" in error(refused)["detail"]
    # Through an alias reference too.
    refused = post(client, V.format("@champion") + "purge/", {"reason": "x"})
    assert refused.status_code == 409
    assert snapshot(any_storage) == before
    post(client, V.format(1) + "hold/", {"reason": "Litigation 2024-17."})
    held = snapshot(any_storage)
    refused = post(client, V.format(1) + "purge/", {"reason": "x"})
    assert refused.status_code == 409 and error(refused)["code"] == "version_held"
    assert snapshot(any_storage) == held


def test_aliased_and_requested_versions_answer_409(api, any_storage, lineup, governance, publisher, post):
    v1 = lineup[0]
    services.alias_set(
        registered_model=v1.registered_model, alias="fallback", version_number=1, actor=publisher
    )
    before = snapshot(any_storage)
    refused = post(api(governance), V.format(1) + "purge/", {"reason": "x"})
    assert refused.status_code == 409 and error(refused)["code"] == "purge_protected"
    assert "@fallback" in error(refused)["detail"]
    assert snapshot(any_storage) == before
    services.alias_delete(registered_model=v1.registered_model, alias="fallback", actor=publisher)
    services.version_transition(version=v1, to=Stage.STAGING, actor=publisher)
    services.transition_request_create(version=v1, to=Stage.PRODUCTION, actor=publisher)
    before = snapshot(any_storage)
    refused = post(api(governance), V.format(1) + "purge/", {"reason": "x"})
    # A pending request exists only in Staging (leaving Staging cancels it), which is refused first.
    assert refused.status_code == 409 and error(refused)["code"] == "purge_protected"
    assert "Staging" in error(refused)["detail"]
    assert snapshot(any_storage) == before


@pytest.mark.parametrize("persona", ["publisher", "reviewer", "outsider"])
def test_only_governance_purges_and_holds(api, request, any_storage, lineup, persona, post):
    client = api(request.getfixturevalue(persona))
    before = snapshot(any_storage)
    for url in (V.format(1) + "purge/", V.format(1) + "hold/", MODEL + "hold/"):
        response = post(client, url, {"reason": "x"})
        assert response.status_code == 403, (url, response.content)
        assert error(response)["code"] == "permission_denied"
    assert snapshot(any_storage) == before


@pytest.mark.parametrize("url", [V.format(1) + "purge/", V.format(1) + "hold/", MODEL + "hold/"])
@pytest.mark.parametrize("payload", [{}, {"reason": "   "}, {"reason": "x", "force": True}])
def test_a_reason_is_required_and_unknown_fields_refused(api, any_storage, lineup, governance, url, payload):
    before = snapshot(any_storage)
    response = api(governance).post(url, payload, format="json")
    assert response.status_code == 400, response.content
    assert error(response)["attr"] in ("reason", "force")
    assert snapshot(any_storage) == before


def test_version_holds_show_in_the_representation(api, lineup, governance, reviewer, post):
    client = api(governance)
    placed = post(client, V.format(1) + "hold/", {"reason": "Litigation 2024-17."})
    assert placed.status_code == 200, placed.content
    hold = placed.json()["hold"]
    assert placed.json()["held"] is True
    assert hold == {
        "scope": "version",
        "reason": "Litigation 2024-17.",
        "placed_by": governance.username,
        "placed_at": hold["placed_at"],
        "object_lock": False,
    }
    listed = {v["version"]: v for v in api(reviewer).get(MODEL + "versions/").json()["results"]}
    assert listed[1]["held"] is True and listed[2]["held"] is False

    again = post(client, V.format(1) + "hold/", {"reason": "Another matter."})
    assert again.status_code == 409 and error(again)["code"] == "already_held"
    released = post(client, V.format(1) + "hold/release/", {"reason": "Case closed."})
    assert released.status_code == 200 and released.json()["held"] is False
    none_left = post(client, V.format(1) + "hold/release/", {"reason": "x"})
    assert none_left.status_code == 409 and error(none_left)["code"] == "not_held"
    assert list(
        LedgerEntry.objects.filter(kind__startswith="hold").order_by("id").values_list("kind", flat=True)
    ) == [
        "hold_placed",
        "hold_released",
    ]


def test_a_model_hold_covers_every_version(api, lineup, governance, publisher, registered_model, post):
    client = api(governance)
    placed = post(client, MODEL + "hold/", {"reason": "Regulator audit."})
    assert placed.status_code == 200, placed.content
    assert placed.json()["hold"]["scope"] == "model"
    assert api(publisher).get(MODEL).json()["hold"]["reason"] == "Regulator audit."
    later = register(registered_model, publisher)
    assert later.version == 3
    for n in (1, 2, 3):
        version = api(publisher).get(V.format(n)).json()
        assert version["held"] is True and version["hold"]["scope"] == "model"
    refused = post(client, V.format(1) + "purge/", {"reason": "x"})
    assert refused.status_code == 409 and error(refused)["code"] == "version_held"
    own = post(client, V.format(1) + "hold/release/", {"reason": "x"})
    assert own.status_code == 409 and "whole model" in error(own)["detail"]
    released = post(client, MODEL + "hold/release/", {"reason": "Audit closed."})
    assert released.status_code == 200 and released.json()["hold"] is None
    assert api(publisher).get(V.format(1)).json()["held"] is False


def test_a_rollback_to_a_purged_version_answers_410(api, lineup, governance, reviewer, post):
    post(api(governance), V.format(1) + "purge/", {"reason": "Withdrawn."})
    rows = LedgerEntry.objects.count()
    response = post(api(reviewer), MODEL + "rollback/", {"version": 1, "reason": "v2 is broken"})
    assert response.status_code == 410
    assert error(response)["code"] == "version_purged"
    assert LedgerEntry.objects.count() == rows
    assert ModelVersion.objects.get(version=2).stage == Stage.PRODUCTION


def test_the_schema_documents_the_governance_endpoints(api, governance):
    schema = api(governance).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/models/{name}/versions/{ref}/purge/",
        "/api/v1/models/{name}/versions/{ref}/hold/",
        "/api/v1/models/{name}/versions/{ref}/hold/release/",
        "/api/v1/models/{name}/hold/",
        "/api/v1/models/{name}/hold/release/",
    ):
        assert "post" in paths[path], path
    assert "410" in paths["/api/v1/models/{name}/versions/{ref}/files/{path}"]["get"]["responses"]
