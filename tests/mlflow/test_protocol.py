"""The protocol's plumbing as the client relies on it: the artifact proxy (uploads of any file name,
empty files sent chunked, listings, byte-identical downloads), error bodies with ``error_code``, and who
may write a run's files."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from models_app.models import DraftArtifact, Run
from models_app.storage.maintenance import artifacts_gc
from tests.mlflow.conftest import tree

ODD_NAME = "name with spaces & ümlaut+plus%.txt"


@pytest.fixture(scope="module")
def logged_tree(registry):
    """A run that logged a folder (nested, with an empty file and an odd name) and one file at its root."""
    import mlflow

    source = Path(tempfile.mkdtemp()) / "tree"
    (source / "sub" / "deeper").mkdir(parents=True)
    (source / "a.txt").write_text("hello\n")
    (source / "sub" / "b.bin").write_bytes(os.urandom(70_000))
    (source / "sub" / "deeper" / "c.json").write_text('{"c": 1}')
    (source / "empty.dat").write_bytes(b"")
    (source / ODD_NAME).write_text("odd name")
    with pytest.MonkeyPatch.context() as patch:
        registry.use(patch, "publisher")
        mlflow.set_experiment("artifacts")
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(source), artifact_path="tree")
            mlflow.log_artifact(str(source / "a.txt"))
    return run, source


def api(registry, persona="publisher"):
    return httpx.Client(
        base_url=registry.url, headers={"Authorization": f"Bearer {registry.tokens[persona]}"}
    )


def test_logged_files_download_byte_identical(logged_tree, as_user):
    import mlflow

    run, source = logged_tree
    as_user("reviewer")
    folder = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="tree", dst_path=tempfile.mkdtemp()
    )
    assert tree(folder) == tree(source)
    assert Path(folder, "empty.dat").read_bytes() == b""
    single = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{run.info.artifact_uri}/tree/sub/b.bin", dst_path=tempfile.mkdtemp()
    )
    assert Path(single).read_bytes() == (source / "sub" / "b.bin").read_bytes()


def test_uploads_are_stored_under_server_keys_with_their_sha256(logged_tree):
    run, source = logged_tree
    rows = {d.path: d for d in DraftArtifact.objects.filter(run_id=run.info.run_id)}
    assert set(rows) == {f"tree/{p}" for p in tree(source)} | {"a.txt"}
    for path, digest in tree(source).items():
        row = rows[f"tree/{path}"]
        assert row.sha256 == digest
        assert row.storage_key.startswith("artifacts/drafts/") and ODD_NAME not in row.storage_key
    assert rows["tree/empty.dat"].size == 0


def test_a_listing_names_entries_relative_to_the_folder_and_a_file_lists_as_nothing(logged_tree, registry):
    run, _ = logged_tree
    root = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    with api(registry) as client:
        listing = client.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{root}/tree"}).json()
        assert listing["files"] == [
            {"path": "a.txt", "is_dir": False, "file_size": 6},
            {"path": "empty.dat", "is_dir": False, "file_size": 0},
            {"path": ODD_NAME, "is_dir": False, "file_size": 8},
            {"path": "sub", "is_dir": True},
        ]
        assert (
            client.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{root}/tree/"}).json()
            == listing
        )
        for path in (f"{root}/tree/a.txt", f"{root}/nope", "unknown/place"):
            answer = client.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": path})
            assert (answer.status_code, answer.json()) == (200, {})
        missing = client.get(f"/api/2.0/mlflow-artifacts/artifacts/{root}/nope.txt")
        assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
        folder = client.get(f"/api/2.0/mlflow-artifacts/artifacts/{root}/tree")
        assert (folder.status_code, folder.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_only_the_runs_creator_writes_its_files_and_a_versions_files_never_change(logged_tree, registry):
    run, _ = logged_tree
    root = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    before = DraftArtifact.objects.count()
    with api(registry, "publisher2") as client:
        answer = client.put(f"/api/2.0/mlflow-artifacts/artifacts/{root}/tree/a.txt", content=b"overwritten")
        assert (answer.status_code, answer.json()["error_code"]) == (403, "PERMISSION_DENIED")
    with api(registry, "publisher") as client:
        answer = client.put(f"/api/2.0/mlflow-artifacts/artifacts/{root}/../escape.txt", content=b"x")
        assert answer.status_code in (400, 404) and "error_code" in answer.json()
        answer = client.put("/api/2.0/mlflow-artifacts/artifacts/registry/nothing/1/MLmodel", content=b"x")
        assert answer.json()["error_code"] in ("RESOURCE_DOES_NOT_EXIST", "PERMISSION_DENIED")
    assert DraftArtifact.objects.count() == before
    assert DraftArtifact.objects.get(run_id=run.info.run_id, path="tree/a.txt").size == 6


def test_garbage_collection_keeps_the_files_of_runs_and_logged_models(logged_tree, registry):
    run, _ = logged_tree
    report = artifacts_gc(grace=timedelta(0), dry_run=True)
    keys = set(DraftArtifact.objects.filter(run_id=run.info.run_id).values_list("storage_key", flat=True))
    assert not keys & {obj.key for obj in report.deleted}
    assert Run.objects.filter(pk=run.info.run_id).exists()


def test_every_error_answer_carries_an_error_code(registry):
    with api(registry) as client:
        bad_json = client.post(
            "/api/2.0/mlflow/registered-models/create",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert (bad_json.status_code, bad_json.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        not_object = client.post("/api/2.0/mlflow/registered-models/create", json=["x"])
        assert not_object.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        missing = client.post("/api/2.0/mlflow/registered-models/create", json={})
        assert missing.json() == {
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": "Missing value for required parameter 'name'.",
        }
        # DELETE carries its parameters in a JSON body, as the client sends them.
        gone = client.request("DELETE", "/api/2.0/mlflow/registered-models/delete", json={"name": "nothing"})
        assert (gone.status_code, gone.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
        # No trailing-slash redirects: the client would re-send a redirected POST as a GET.
        slashed = client.post("/api/2.0/mlflow/registered-models/create/", json={"name": "x"})
        assert (slashed.status_code, slashed.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
        info = client.get("/api/3.0/mlflow/server-info").json()
        assert (info["multipart_uploads_enabled"], info["multipart_downloads_enabled"]) == (False, False)
    anonymous = httpx.get(f"{registry.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": "x"})
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, "UNAUTHENTICATED")
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_over_its_budget_is_told_when_to_come_back_on_both_doors(registry, settings):
    from models_app.services.tokens import api_token_create

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token": "2/minute"},
    }
    token = api_token_create(user=registry.users["reviewer"], name="budget")[1]
    with httpx.Client(base_url=registry.url, headers={"Authorization": f"Bearer {token}"}) as client:
        statuses = [client.get("/api/2.0/mlflow/registered-models/search").status_code for _ in range(2)]
        over = client.get("/api/2.0/mlflow/registered-models/search")
        native = client.get("/api/v1/models/")
    assert statuses == [200, 200]
    assert (over.status_code, over.json()["error_code"]) == (429, "REQUEST_LIMIT_EXCEEDED")
    assert int(over.headers["Retry-After"]) >= 1
    # One budget per token, whichever door it uses.
    assert native.status_code == 429


def test_a_url_refused_at_the_door_still_answers_in_the_protocols_shape(registry):
    answer = httpx.get(
        f"{registry.url}/api/2.0/mlflow/registered-models/get",
        params={"name": "bad\x00name"},
        headers={"Authorization": f"Bearer {registry.tokens['reviewer']}"},
    )
    assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_a_model_folder_logged_as_run_files_registers_from_its_runs_uri(registry, as_user):
    """MLflow 2.x style: the model's files are the run's own (``runs:/<run>/<folder>`` holds an MLmodel)."""
    import mlflow

    from models_app.models import ModelVersion

    folder = Path(tempfile.mkdtemp()) / "legacy"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "weights.bin").write_bytes(os.urandom(10_000))
    as_user("publisher")
    mlflow.set_experiment("legacy")
    with mlflow.start_run() as run:
        mlflow.log_param("depth", 4)
        mlflow.log_artifacts(str(folder), artifact_path="legacy")
    version = mlflow.register_model(f"runs:/{run.info.run_id}/legacy", "legacy-model")
    assert (version.version, version.run_id) == ("1", run.info.run_id)
    stored = ModelVersion.objects.get(registered_model__name="legacy-model", version=1)
    assert {f.path: f.sha256 for f in stored.files.all()} == tree(folder)
    assert stored.parameters == {"depth": "4"}
    assert stored.origin.source == f"{run.info.artifact_uri}/legacy"
