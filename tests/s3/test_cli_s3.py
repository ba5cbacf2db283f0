"""The modelreg CLI on S3: push goes straight to the bucket in parts, pull follows the presigned redirect."""

from __future__ import annotations

import hashlib
import os

import pytest

from modelreg import cli
from models_app.choices import UploadStatus, VersionStatus
from models_app.models import ModelVersion, UploadSession
from models_app.services.tokens import api_token_create

pytestmark = pytest.mark.django_db(transaction=True)
MiB = 1024 * 1024


@pytest.fixture
def modelreg(live_server, monkeypatch, capsys, settings):
    monkeypatch.setenv("MODELREG_URL", live_server.url)

    def run(user, *args):
        monkeypatch.setenv(
            "MODELREG_TOKEN", api_token_create(user=user, name=f"cli-{os.urandom(4).hex()}")[1]
        )
        capsys.readouterr()
        code = cli.main(["--quiet", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_push_uploads_to_the_bucket_and_pull_follows_the_redirect(
    s3_storage, small_parts, settings, modelreg, registered_model, publisher, tmp_path
):
    src = tmp_path / "out"
    (src / "weights").mkdir(parents=True)
    big = os.urandom(6 * MiB)
    (src / "weights" / "model.bin").write_bytes(big)
    (src / "config.json").write_text('{"layers": 2}')

    code, out, err = modelreg(publisher, "push", "fraud-detector", str(src), "--no-git")
    assert code == 0, err
    assert out.strip() == "1"
    session = UploadSession.objects.get()
    assert session.status == UploadStatus.COMPLETED
    assert session.files.get(path="weights/model.bin").part_count == 2
    assert ModelVersion.objects.get().status == VersionStatus.READY

    settings.REGISTRY_S3_REDIRECT_DOWNLOADS = True
    dest = tmp_path / "pulled"
    code, out, err = modelreg(publisher, "pull", "fraud-detector:1", "-o", str(dest))
    assert code == 0, err
    assert (
        hashlib.sha256((dest / "weights" / "model.bin").read_bytes()).digest() == hashlib.sha256(big).digest()
    )
    assert (dest / "config.json").read_text() == '{"layers": 2}'


def test_push_falls_back_to_one_request_without_s3(modelreg, registered_model, publisher, tmp_path):
    (tmp_path / "model.bin").write_bytes(b"small")
    code, out, err = modelreg(publisher, "push", "fraud-detector", str(tmp_path / "model.bin"), "--no-git")
    assert out.strip() == "1"
    assert code == 0, err
    assert not UploadSession.objects.exists()
    assert ModelVersion.objects.get().status == VersionStatus.READY
