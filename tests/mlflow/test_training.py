"""An unchanged training script registers versions here: MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN are
the whole migration. The run's parameters, metrics, tags and git commit become the version's lineage; the
files are copied into the version as a native registration stores them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from models_app.choices import EventType, LedgerKind, LoggedModelStatus, RunStatus, VersionStatus
from models_app.models import (
    DraftArtifact,
    Event,
    LedgerEntry,
    LoggedModel,
    ModelVersion,
    RegisteredModel,
    Run,
)

SCRIPT = Path(__file__).parent / "scripts" / "train.py"
NAME = "fraud-trainer"


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.email=ci@example.com", "-c", "user.name=CI", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def trained(registry, tmp_path_factory):
    """The script run once in its own git checkout, as a pipeline would run it."""
    repo = tmp_path_factory.mktemp("fraud-repo")
    shutil.copy(SCRIPT, repo / "train.py")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", "https://ci-token@git.example.com/ml/fraud.git")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "train")
    out = repo / "logged.json"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": registry.url,
        "MLFLOW_TRACKING_TOKEN": registry.tokens["publisher"],
    }
    result = subprocess.run(
        [sys.executable, "train.py", NAME, str(out)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {**json.loads(out.read_text()), "commit": git(repo, "rev-parse", "HEAD")}


def test_the_script_registers_three_versions_ready_at_once(trained, registry):
    assert trained["versions"] == ["1", "2", "3"]
    assert trained["prediction"] == [8.0, 9.0]
    model = RegisteredModel.objects.get(name=NAME)
    # The publisher's only team owns the model the script created.
    assert model.team.name == "fraud-team"
    versions = list(ModelVersion.objects.filter(registered_model=model).order_by("version"))
    assert [(v.version, v.status, v.created_by) for v in versions] == [
        (n, VersionStatus.READY, registry.users["publisher"]) for n in (1, 2, 3)
    ]


def test_the_files_are_copied_into_each_version_with_their_sha256(trained):
    drafts = {d.path: d for d in DraftArtifact.objects.filter(logged_model_id=trained["model_id"])}
    for version in ModelVersion.objects.filter(registered_model__name=NAME):
        files = {f.path: f for f in version.files.all()}
        assert set(files) == set(drafts)
        for path, digest in trained["sha256"].items():
            assert files[path].sha256 == digest
        for path, record in files.items():
            # A copy under the model's own server-generated key, never the draft's object.
            assert record.storage_key.startswith(f"artifacts/{version.registered_model_id}/")
            assert record.storage_key != drafts[path].storage_key
            assert (record.size, record.sha256) == (drafts[path].size, drafts[path].sha256)


def test_the_runs_lineage_becomes_the_versions(trained):
    for version in ModelVersion.objects.filter(registered_model__name=NAME):
        assert version.parameters == {"learning_rate": "0.1", "epochs": "3", "optimizer": "sgd"}
        assert version.metrics == {"accuracy": 0.9, "loss": 0.25}
        assert version.source_commit == trained["commit"]
        assert version.source_branch == "main"
        # The remote's credentials never reach the registry.
        assert version.source_repository == "https://git.example.com/ml/fraud.git"
        assert version.tags == {"use-case": "fraud"}
        assert [d["name"] for d in version.datasets] == ["transactions"]
        assert version.environment["requirements"].splitlines()[0].startswith("mlflow")
        assert version.origin.run_id == trained["run_id"]
        assert version.origin.logged_model_id == trained["model_id"]


def test_the_ledger_and_the_events_record_the_registrations(trained):
    model = RegisteredModel.objects.get(name=NAME)
    rows = list(LedgerEntry.objects.filter(registered_model=model).order_by("id"))
    assert [(r.kind, r.version.version if r.version else None) for r in rows] == [
        (LedgerKind.MODEL_CREATED, None),
        (LedgerKind.REGISTERED, 1),
        (LedgerKind.REGISTERED, 2),
        (LedgerKind.REGISTERED, 3),
    ]
    types = list(
        Event.objects.filter(registered_model=model).order_by("sequence").values_list("type", flat=True)
    )
    assert types == [EventType.MODEL_CREATED] + [EventType.VERSION_REGISTERED] * 3


def test_runs_and_logged_models_stay_drafts_and_the_version_links_to_its_run(trained, registry):
    run = Run.objects.get(pk=trained["run_id"])
    assert run.status == RunStatus.FINISHED
    assert run.experiment.name == "fraud-training"
    assert LoggedModel.objects.get(pk=trained["model_id"]).status == LoggedModelStatus.READY
    # No ledger row speaks of the run: drafts are not registry state.
    assert LedgerEntry.objects.filter(registered_model__name=NAME).count() == 4

    answer = httpx.get(
        f"{registry.url}/api/v1/models/{NAME}/versions/1/",
        headers={"Authorization": f"Bearer {registry.tokens['reviewer']}"},
    )
    assert answer.status_code == 200
    linked = answer.json()["run"]
    assert linked["run_id"] == trained["run_id"]
    assert linked["experiment"] == "fraud-training"
    assert linked["logged_model_id"] == trained["model_id"]
    assert linked["source"] == f"models:/{trained['model_id']}"
    run_answer = httpx.get(linked["url"], headers={"Authorization": f"Bearer {registry.tokens['reviewer']}"})
    assert run_answer.json()["run"]["info"]["run_id"] == trained["run_id"]


def test_the_logged_model_lists_the_versions_registered_from_it(trained, as_user):
    client = as_user("reviewer")
    logged = client.get_logged_model(trained["model_id"])
    assert json.loads(logged.tags["mlflow.modelVersions"]) == [
        {"name": NAME, "version": v} for v in ("1", "2", "3")
    ]
    versions = client.search_model_versions(f"run_id='{trained['run_id']}'")
    assert sorted(v.version for v in versions) == ["1", "2", "3"]
    assert {v.run_id for v in versions} == {trained["run_id"]}
