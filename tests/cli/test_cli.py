"""The modelreg CLI against a live server: push then pull round-trips byte-identical files, a tampered
stored file is caught by pull, and the lifecycle commands drive the whole story."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from modelreg import cli
from models_app.choices import EventType, Stage
from models_app.models import ArtifactFile, Event, ModelVersion
from models_app.services.tokens import api_token_create
from tests.conftest import nothing_written

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def modelreg(live_server, monkeypatch, capsys):
    """``modelreg(user, *args)`` runs the CLI in-process as ``user``; returns (exit code, stdout, stderr).

    ``modelreg.sign_in(user)`` issues the user's token ahead, so a refused command can be checked for
    writing nothing.
    """
    monkeypatch.setenv("MODELREG_URL", live_server.url)
    tokens = {}

    def sign_in(user):
        if user.pk not in tokens:
            tokens[user.pk] = api_token_create(user=user, name="cli")[1]
        return tokens[user.pk]

    def run(user, *args):
        monkeypatch.setenv("MODELREG_TOKEN", sign_in(user))
        capsys.readouterr()
        code = cli.main(["--quiet", *args])
        out, err = capsys.readouterr()
        return code, out, err

    run.sign_in = sign_in
    return run


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A git repository with a trained model: a weights directory and a metrics file."""
    repo = tmp_path / "train"
    (repo / "out" / "weights").mkdir(parents=True)
    (repo / "out" / "weights" / "layer1.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    (repo / "out" / "config.json").write_text('{"layers": 2}')
    (repo / "metrics.json").write_text(json.dumps({"accuracy": 0.93, "auc": 0.97}))
    (repo / "train.py").write_text("print('train')\n")
    git = ["git", "-C", str(repo), "-c", "user.email=ci@example.com", "-c", "user.name=CI"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run(
        [*git, "remote", "add", "origin", "https://ci-token@git.example.com/ml/fraud.git"], check=True
    )
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "train"], check=True)
    monkeypatch.chdir(repo)
    return repo


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_push_then_pull_round_trips_byte_identical_files(
    modelreg, workdir, tmp_path, registered_model, publisher
):
    code, out, err = modelreg(
        publisher,
        "push",
        "fraud-detector",
        "out",
        "--metrics",
        "metrics.json",
        "--metric",
        "latency_ms=12",
        "--param",
        "lr=0.01",
        "--param",
        "optimizer=adam",
        "--dataset",
        "s3://data/transactions@2024-06",
        "--description",
        "First model",
        "--stage",
        "staging",
    )
    assert code == 0, err
    assert out.strip() == "1"

    version = ModelVersion.objects.get(registered_model=registered_model, version=1)
    assert version.stage == Stage.STAGING
    assert version.metrics == {"accuracy": 0.93, "auc": 0.97, "latency_ms": 12}
    assert version.parameters == {"lr": 0.01, "optimizer": "adam"}
    assert version.datasets == [{"uri": "s3://data/transactions", "version": "2024-06"}]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert version.source_commit == head
    assert version.source_branch == "main"
    assert version.source_dirty is False  # untracked outputs do not make the tree dirty
    assert version.source_repository == "https://git.example.com/ml/fraud.git"  # the token is not recorded
    assert sorted(version.files.values_list("path", flat=True)) == ["config.json", "weights/layer1.bin"]

    target = tmp_path / "deploy"
    code, out, err = modelreg(publisher, "pull", "fraud-detector:staging", "-o", str(target))
    assert code == 0, err
    assert out.strip() == "1"
    assert tree(target) == tree(workdir / "out")
    assert not list(tmp_path.glob(".modelreg-*"))  # no temporary directory left behind


@pytest.mark.parametrize(
    ("umask", "dir_mode", "file_mode"),
    [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)],
    ids=["umask-022", "umask-027"],
)
def test_pull_gives_the_output_the_modes_of_the_umask(
    modelreg, workdir, tmp_path, registered_model, publisher, umask, dir_mode, file_mode
):
    assert modelreg(publisher, "push", "fraud-detector", "out")[0] == 0
    target = tmp_path / "deploy"
    previous = os.umask(umask)
    try:
        code, _, err = modelreg(publisher, "pull", "fraud-detector:1", "-o", str(target))
    finally:
        os.umask(previous)
    assert code == 0, err
    modes = {
        p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in [target, *target.rglob("*")]
    }
    assert modes == {
        "deploy": dir_mode,  # as `mkdir deploy` would make it, not a temporary directory's 0700
        "deploy/weights": dir_mode,
        "deploy/config.json": file_mode,
        "deploy/weights/layer1.bin": file_mode,
    }


def test_a_retried_push_with_the_same_key_creates_one_version(modelreg, workdir, registered_model, publisher):
    first = modelreg(publisher, "push", "fraud-detector", "out/config.json", "--idempotency-key", "ci-run-42")
    again = modelreg(publisher, "push", "fraud-detector", "out/config.json", "--idempotency-key", "ci-run-42")
    assert first[0] == again[0] == 0
    assert first[1] == again[1] == "1\n"
    assert ModelVersion.objects.filter(registered_model=registered_model).count() == 1
    (workdir / "train.py").write_text("print('changed')\n")
    modelreg(publisher, "push", "fraud-detector", "out/config.json")
    assert ModelVersion.objects.get(registered_model=registered_model, version=2).source_dirty is True


def test_pull_detects_a_tampered_file_and_keeps_nothing(
    modelreg, workdir, tmp_path, artifact_root, registered_model, publisher
):
    assert modelreg(publisher, "push", "fraud-detector", "out")[0] == 0
    stored = ArtifactFile.objects.get(path="weights/layer1.bin")
    blob = artifact_root / stored.storage_key
    data = bytearray(blob.read_bytes())
    data[1000] ^= 0xFF  # one flipped bit in storage, same size
    blob.write_bytes(bytes(data))

    fresh = tmp_path / "fresh"
    code, _, err = modelreg(publisher, "pull", "fraud-detector:1", "-o", str(fresh))
    assert code == 1
    assert "weights/layer1.bin" in err and "checksum mismatch" in err
    assert not fresh.exists()

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "config.json").write_text("old")
    code, _, _ = modelreg(publisher, "pull", "fraud-detector:latest", "-o", str(existing))
    assert code == 1
    assert tree(existing) == {"config.json": hashlib.sha256(b"old").hexdigest()}  # untouched
    assert not list(tmp_path.glob(".modelreg-*"))


def test_the_lifecycle_commands_tell_the_whole_story(
    modelreg, workdir, tmp_path, registered_model, publisher, reviewer
):
    assert modelreg(publisher, "push", "fraud-detector", "out", "--stage", "staging")[1] == "1\n"
    code, out, err = modelreg(
        publisher, "request", "fraud-detector", "1", "--to", "production", "--comment", "ship"
    )
    assert code == 0, err
    request_id = out.strip()
    with nothing_written():
        code, _, err = modelreg(publisher, "approve", request_id)
    assert code == 1
    assert "self_approval_forbidden" in err
    code, out, err = modelreg(reviewer, "approve", request_id, "--comment", "looks good")
    assert code == 0, err
    assert "approved" in out

    assert (
        modelreg(publisher, "push", "fraud-detector", "out", "--parent", "1", "--stage", "staging")[1]
        == "2\n"
    )
    request_id = modelreg(publisher, "request", "fraud-detector", "2")[1].strip()
    assert modelreg(reviewer, "approve", request_id)[0] == 0
    code, out, err = modelreg(
        publisher, "deployed", "fraud-detector", "2", "--env", "prod-eu", "--status", "failed"
    )
    assert code == 0, err
    code, out, err = modelreg(reviewer, "rollback", "fraud-detector", "1", "--reason", "v2 failed to deploy")
    assert code == 0, err
    assert "v1 is in production" in out
    assert (
        modelreg(publisher, "deployed", "fraud-detector", "1", "--env", "prod-eu", "--status", "succeeded")[0]
        == 0
    )

    code, out, _ = modelreg(publisher, "ls")
    assert code == 0
    assert "fraud-detector" in out and "fraud-team" in out
    code, out, _ = modelreg(publisher, "ls", "fraud-detector")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["VERSION", "STAGE", "STATUS"]
    assert lines[1].split()[:2] == ["2", "archived"]
    assert lines[2].split()[:2] == ["1", "production"]
    assert "prod-eu:succeeded" in lines[2]

    code, out, _ = modelreg(publisher, "history", "fraud-detector")
    assert code == 0
    kinds = [line.split()[1] for line in out.splitlines()[1:]]
    assert kinds[0] == "deployment" and "rollback" in kinds and "approved" in kinds
    at = Event.objects.get(type=EventType.ROLLBACK).occurred_at.isoformat()
    code, out, _ = modelreg(publisher, "history", "fraud-detector", "--at", at)
    assert code == 0
    assert "production  v1" in out and "archived    v2" in out

    code, out, _ = modelreg(publisher, "--json", "ls", "fraud-detector")
    assert [v["version"] for v in json.loads(out)] == [2, 1]


def test_errors_exit_non_zero_with_the_registry_message(
    modelreg, workdir, registered_model, publisher, outsider
):
    modelreg.sign_in(outsider)
    with nothing_written():
        code, _, err = modelreg(outsider, "push", "fraud-detector", "out")
    assert code == 1
    assert "permission_denied" in err or "Only Publishers" in err
    code, _, err = modelreg(publisher, "pull", "nope:1", "-o", "x")
    assert code == 1 and "No model named 'nope'" in err
    code, _, err = modelreg(publisher, "push", "fraud-detector", "missing-dir")
    assert code == 2 and "no such file" in err
    code, _, err = modelreg(publisher, "push", "fraud-detector", "out", "--metric", "acc=high")
    assert code == 2 and "not a number" in err
