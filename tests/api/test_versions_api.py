"""Registration over multipart (on the filesystem and on S3), version reads and edits, filters, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from models_app.api.parsers import HashingUploadHandler
from models_app.choices import LedgerKind
from models_app.exceptions import TooLarge
from models_app.models import ArtifactFile, LedgerEntry, ModelVersion
from models_app.storage.artifacts import artifact_storage
from tests.api.conftest import post_version, sha256
from tests.conftest import promote, register, stored_keys

METADATA = {
    "source": {"repository": "https://git.example.com/fraud", "commit": "a" * 40, "branch": "main"},
    "datasets": [{"uri": "s3://data/transactions", "version": "2024-06", "digest": "sha256:abc"}],
    "parameters": {"lr": 0.01, "epochs": 5},
    "metrics": {"accuracy": 0.93, "auc": 0.88},
    "environment": {"python_version": "3.11.9", "framework": "torch", "libraries": {"numpy": "2.1.0"}},
    "signature": {"inputs": [{"name": "amount", "type": "float"}]},
    "description": "Retrained on June data.",
    "tags": {"task": "fraud"},
    "run_url": "https://runs.example.com/42",
}


def test_it_registers_a_version_with_nested_paths_and_metadata(any_storage, api, publisher, registered_model):
    weights, config = bytes(range(256)) * 1200, b'{"layers": 3}'  # 300 KB: several upload chunks
    files = [("weights/model.bin", weights), ("config.json", config)]
    meta = {**METADATA, "files": {"weights/model.bin": {"sha256": sha256(weights)}}}
    client = api(publisher)
    response = post_version(client, "fraud-detector", files, meta)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["status"] == "ready"
    assert body["stage"] == "none"
    assert {f["path"]: (f["size"], f["sha256"]) for f in body["files"]} == {
        "weights/model.bin": (len(weights), sha256(weights)),
        "config.json": (len(config), sha256(config)),
    }
    assert body["source"] == {**METADATA["source"], "dirty": False}
    assert body["datasets"] == METADATA["datasets"]
    assert body["metrics"] == METADATA["metrics"]
    assert body["environment"]["libraries"] == {"numpy": "2.1.0"}
    assert body["tags"] == {"task": "fraud"}
    assert body["created_by"] == publisher.username
    assert response["Location"].endswith("/api/v1/models/fraud-detector/versions/1/")
    assert ModelVersion.objects.get().files.count() == 2
    assert stored_keys(any_storage) == sorted(ArtifactFile.objects.values_list("storage_key", flat=True))
    # The bytes come back as they went in.
    download = client.get("/api/v1/models/fraud-detector/versions/1/files/weights/model.bin")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == weights
    assert download["ETag"] == f'"{sha256(weights)}"'


def test_it_accepts_metadata_as_a_file_part_and_a_parent(api, publisher, registered_model):
    register(registered_model, publisher)
    response = post_version(
        api(publisher),
        "fraud-detector",
        [("m.bin", b"x")],
        extra_parts=[("metadata", "meta.json", b'{"parent_version": 1, "metrics": {"f1": 0.5}}')],
    )
    assert response.status_code == 201, response.json()
    assert response.json()["parent_version"] == 1
    assert response.json()["metrics"] == {"f1": 0.5}


def test_it_returns_the_first_version_on_an_idempotent_retry(any_storage, api, publisher, registered_model):
    client = api(publisher)
    first = post_version(client, "fraud-detector", [("m.bin", b"one")], HTTP_IDEMPOTENCY_KEY="build-77")
    retry = post_version(client, "fraud-detector", [("m.bin", b"one")], HTTP_IDEMPOTENCY_KEY="build-77")
    # A replay answers 200 (a creation 201), so a client can tell them apart; the body is the same.
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert retry["Location"] == first["Location"]
    assert ModelVersion.objects.count() == 1
    # The retry's bytes were not kept.
    assert stored_keys(any_storage) == [ArtifactFile.objects.get().storage_key]
    other = post_version(client, "fraud-detector", [("m.bin", b"one")], HTTP_IDEMPOTENCY_KEY="build-78")
    assert other.json()["version"] == 2


def test_it_refuses_a_checksum_mismatch_and_keeps_nothing(any_storage, api, publisher, registered_model):
    meta = {"files": {"model.bin": {"sha256": sha256(b"something else")}}}
    response = post_version(api(publisher), "fraud-detector", [("model.bin", b"actual")], meta)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert response.json()["type"] == "validation_error"
    assert error["code"] == "checksum_mismatch"
    assert error["attr"] == "files.model.bin.sha256"
    assert ModelVersion.objects.count() == 0
    assert ArtifactFile.objects.count() == 0
    assert stored_keys(any_storage) == []


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "C:/weights.bin",
        "../escape.bin",
        "weights/../../escape.bin",
        "./model.bin",
        "weights//model.bin",
        "weights\\model.bin",
        "model\x00.bin",
        "model\x01.bin",
        "line\nbreak.bin",
        "tab\tname.bin",
        "weights/",
    ],
    ids=[
        "absolute",
        "drive",
        "dotdot",
        "nested-dotdot",
        "dot",
        "empty-segment",
        "backslash",
        "nul",
        "control",
        "newline",
        "tab",
        "trailing-slash",
    ],
)
def test_it_refuses_a_bad_path_naming_the_field(any_storage, api, publisher, registered_model, path):
    response = post_version(api(publisher), "fraud-detector", [("good.bin", b"ok"), (path, b"evil")])
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["code"] == "invalid_path"
    assert error["attr"] == "file"
    assert ModelVersion.objects.count() == 0
    assert stored_keys(any_storage) == []


def test_it_refuses_a_path_that_is_only_bad_after_a_second_decoding_as_literal(
    api, publisher, registered_model
):
    # The name is decoded once (RFC 2231); '%2e%2e' stays a harmless literal label, not '..'.
    response = post_version(api(publisher), "fraud-detector", [("%2e%2e/x.bin", b"ok")])
    assert response.status_code == 201
    assert response.json()["files"][0]["path"] == "%2e%2e/x.bin"


def test_it_refuses_a_duplicate_path(api, publisher, registered_model):
    response = post_version(api(publisher), "fraud-detector", [("a/m.bin", b"1"), ("a/m.bin", b"2")])
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "file"
    assert "twice" in response.json()["errors"][0]["detail"]
    assert stored_keys(artifact_storage()) == []


def test_it_refuses_a_body_over_the_limit_with_413(api, publisher, registered_model, settings):
    settings.REGISTRY_MAX_UPLOAD_BYTES = 4096
    response = post_version(api(publisher), "fraud-detector", [("big.bin", b"x" * 8192)])
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "too_large"
    assert ModelVersion.objects.count() == 0
    assert stored_keys(artifact_storage()) == []


def test_the_upload_handler_stops_a_stream_past_the_limit(rf):
    handler = HashingUploadHandler(rf.post("/"), limit=10)
    handler.new_file("file", "m.bin", "application/octet-stream", None)
    handler.receive_data_chunk(b"x" * 8, 0)
    with pytest.raises(TooLarge):
        handler.receive_data_chunk(b"x" * 8, 8)
    assert handler.file.closed


@pytest.mark.parametrize(
    ("kwargs", "attr", "code"),
    [
        ({"metadata_raw": "{not json"}, "metadata", "invalid"),
        ({"metadata_raw": '{"metrics": {"acc": "high"}}'}, "metrics.acc", "invalid"),
        ({"metadata_raw": '{"colour": "red"}'}, "metadata", "invalid"),
        ({"extra_parts": [("weights", "w.bin", b"1")]}, "weights", "invalid"),
    ],
    ids=["bad-json", "bad-metric", "unknown-field", "unknown-part"],
)
def test_it_refuses_bad_metadata_naming_the_field(api, publisher, registered_model, kwargs, attr, code):
    response = post_version(api(publisher), "fraud-detector", [("m.bin", b"1")], **kwargs)
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["attr"] == attr
    assert response.json()["errors"][0]["code"] == code
    assert ModelVersion.objects.count() == 0


def test_it_refuses_a_registration_without_files(api, publisher, registered_model):
    response = post_version(api(publisher), "fraud-detector", [], {"metrics": {}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "file"


def test_it_refuses_json_registrations_as_unsupported(api, publisher, registered_model):
    response = api(publisher).post("/api/v1/models/fraud-detector/versions/", {"metadata": {}}, format="json")
    assert response.status_code == 415


def test_it_resolves_every_kind_of_reference(api, publisher, reviewer, registered_model):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    register(registered_model, publisher)
    v3 = register(registered_model, publisher)
    client = api(publisher)
    client.put("/api/v1/models/fraud-detector/aliases/champion/", {"version": 1}, format="json")
    client.post("/api/v1/models/fraud-detector/versions/3/transition/", {"to": "staging"}, format="json")
    expected = {"1": 1, "latest": 3, "production": 1, "staging": 3, "@champion": 1}
    for ref, number in expected.items():
        response = client.get(f"/api/v1/models/fraud-detector/versions/{ref}/")
        assert response.status_code == 200, (ref, response.json())
        assert response.json()["version"] == number, ref
    assert client.get("/api/v1/models/fraud-detector/versions/1/").json()["aliases"] == ["champion"]
    assert v3.version == 3
    missing = client.get("/api/v1/models/fraud-detector/versions/archived/")
    assert missing.status_code == 404
    assert missing.json()["errors"][0] == {
        "code": "version_not_found",
        "detail": "'fraud-detector' has no version 'archived'.",
        "attr": "ref",
    }
    assert client.get("/api/v1/models/fraud-detector/versions/@nobody/").status_code == 404
    assert client.get("/api/v1/models/fraud-detector/versions/bogus/").status_code == 404
    assert (
        client.get("/api/v1/models/no-such-model/versions/1/").json()["errors"][0]["code"]
        == "model_not_found"
    )


def test_it_edits_only_description_and_tags(api, publisher, registered_model):
    register(registered_model, publisher)
    client = api(publisher)
    response = client.patch(
        "/api/v1/models/fraud-detector/versions/1/",
        {"description": "Better.", "tags": {"q": "3"}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["description"] == "Better."
    assert response.json()["tags"] == {"q": "3"}
    refused = client.patch("/api/v1/models/fraud-detector/versions/1/", {"metrics": {"a": 1}}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["attr"] == "metrics"
    assert ModelVersion.objects.get().metrics == {"accuracy": 0.9}


def test_it_filters_and_orders_versions(api, publisher, registered_model):
    register(registered_model, publisher, metadata={"metrics": {"accuracy": 0.80}, "tags": {"q": "a"}})
    register(
        registered_model,
        publisher,
        metadata={
            "metrics": {"accuracy": 0.95},
            "source": {"commit": "b" * 40},
            "datasets": [{"uri": "s3://d/june"}],
        },
    )
    register(registered_model, publisher, metadata={"metrics": {"accuracy": 0.91, "auc": 0.7}})
    client = api(publisher)
    url = "/api/v1/models/fraud-detector/versions/"

    def numbers(query):
        response = client.get(url + query)
        assert response.status_code == 200, response.json()
        return [v["version"] for v in response.json()["results"]]

    assert numbers("") == [3, 2, 1]
    assert numbers("?metric=accuracy>=0.9") == [3, 2]
    assert numbers("?metric=accuracy>=0.9&metric=auc>0.5") == [3]
    assert numbers("?ordering=metric:accuracy") == [1, 3, 2]
    assert numbers("?ordering=-metric:accuracy") == [2, 3, 1]
    assert numbers("?ordering=version") == [1, 2, 3]
    assert numbers("?tag=q:a") == [1]
    assert numbers("?tag=q") == [1]
    assert numbers("?commit=bbbbbbb") == [2]
    assert numbers("?dataset=s3://d/june") == [2]
    assert numbers(f"?author={publisher.username}") == [3, 2, 1]
    assert numbers("?stage=staging") == []
    assert numbers("?status=ready&page_size=2") == [3, 2]
    bad = client.get(url + "?metric=accuracy~0.9")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["attr"] == "metric"


def _count_queries(client, url) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json().get("results", response.json()))


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/models/fraud-detector/versions/?page_size={n}",
        "/api/v1/models/?page_size={n}",
        "/api/v1/audit/?page_size={n}",
        "/api/v1/transition-requests/?page_size={n}",
    ],
)
def test_list_queries_do_not_grow_with_page_size(api, publisher, reviewer, team, registered_model, url):
    from models_app import services

    for i in range(6):
        version = register(registered_model, publisher, files={"a.bin": b"a", "b/c.bin": b"c"})
        services.version_transition(version=version, to="staging", actor=publisher)
        services.transition_request_create(version=version, to="production", actor=publisher)
        services.registered_model_create(name=f"extra-{i}", team=team, actor=publisher)
        services.alias_set(
            registered_model=registered_model, alias=f"a{i}", version_number=version.version, actor=publisher
        )
    client = api(publisher)
    client.get(url.format(n=1))  # the token's last-used write happens once; keep it out of the counts
    small_queries, small_rows = _count_queries(client, url.format(n=1))
    big_queries, big_rows = _count_queries(client, url.format(n=6))
    assert (small_rows, big_rows) == (1, 6)
    assert big_queries == small_queries


def test_a_model_list_lists_the_versions_of_a_model_only(api, publisher, team, registered_model):
    from models_app import services

    other = services.registered_model_create(name="churn", team=team, actor=publisher)
    register(other, publisher)
    register(registered_model, publisher)
    response = api(publisher).get("/api/v1/models/churn/versions/")
    assert [(v["model"], v["version"]) for v in response.json()["results"]] == [("churn", 1)]
    assert LedgerEntry.objects.filter(kind=LedgerKind.REGISTERED).count() == 2
