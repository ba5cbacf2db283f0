"""The client-side transfer helpers the modelreg CLI uses, against the registry app and the S3 server."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from modelreg.transfer import TransferError, download_file, upload_version
from models_app.models import ArtifactFile, ModelVersion, UploadSession
from models_app.services.tokens import api_token_create

MiB = 1024 * 1024


@pytest.fixture
def registry(publisher):
    """An httpx client that calls the registry's WSGI app in-process with a publisher's token."""
    # As Django's test client does: the test's transaction must survive the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    _, token = api_token_create(user=publisher, name="cli")
    client = httpx.Client(
        transport=httpx.WSGITransport(app=get_wsgi_application()),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )
    yield client
    client.close()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def write(tmp_path, name, data):
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_it_uploads_directly_and_downloads_through_the_redirect(
    s3_storage, small_parts, settings, registry, registered_model, tmp_path
):
    big = os.urandom(6 * MiB)
    files = {
        "weights/model.bin": write(tmp_path, "model.bin", big),
        "card.md": write(tmp_path, "card.md", b"# v1"),
    }
    version = upload_version(
        registry, "fraud-detector", files, metadata={"metrics": {"f1": 0.8}}, progress=False
    )
    assert version["status"] == "ready" and version["metrics"] == {"f1": 0.8}
    assert UploadSession.objects.get().files.get(path="weights/model.bin").part_count == 2

    settings.REGISTRY_S3_REDIRECT_DOWNLOADS = True
    dest = tmp_path / "out" / "model.bin"
    digest = download_file(registry, "fraud-detector", "latest", "weights/model.bin", dest, progress=False)
    assert digest == hashlib.sha256(big).hexdigest() and dest.read_bytes() == big


def test_it_falls_back_to_one_request_on_the_filesystem_backend(registry, registered_model, tmp_path):
    files = {"model.bin": write(tmp_path, "model.bin", b"small weights")}
    version = upload_version(registry, "fraud-detector", files, progress=False)
    assert version["status"] == "ready"
    assert not UploadSession.objects.exists()
    dest = tmp_path / "model.bin"
    download_file(registry, "fraud-detector", 1, "model.bin", dest, progress=False)
    assert dest.read_bytes() == b"small weights"


def test_it_aborts_its_upload_when_the_bucket_is_unreachable(
    s3_storage, s3_server, registry, registered_model, tmp_path
):
    files = {"model.bin": write(tmp_path, "model.bin", b"weights")}
    session_seen = []
    original = httpx.Client.put

    def put_while_down(self, url, **kwargs):
        session_seen.append(url)
        with s3_server.down():
            return original(self, url, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx.Client, "put", put_while_down)
        with pytest.raises(TransferError, match=r"part 1 of model\.bin failed"):
            upload_version(registry, "fraud-detector", files, progress=False)
    assert len(session_seen) == 3  # retried
    assert ModelVersion.objects.get().status == "failed"
    assert not ArtifactFile.objects.exists()


def test_it_refuses_a_download_whose_digest_does_not_match(registry, registered_model, tmp_path):
    upload_version(registry, "fraud-detector", {"m.bin": write(tmp_path, "m.bin", b"abc")}, progress=False)
    ArtifactFile.objects.update(sha256="0" * 64)
    dest = tmp_path / "m.bin"
    with pytest.raises(TransferError, match="does not match"):
        download_file(registry, "fraud-detector", 1, "m.bin", dest, progress=False)
    assert not dest.exists() and not (tmp_path / "m.bin.part").exists()
