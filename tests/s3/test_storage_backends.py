"""The core's artifact behaviour on both storage backends: round trip, checksum refusal, failure mid-file."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from models_app import objectstore, services
from models_app.artifacts import IncomingFile, iter_file
from models_app.choices import VersionStatus
from models_app.exceptions import ChecksumMismatch, StorageUnavailable
from models_app.models import ArtifactFile, ModelVersion


def stored_keys(storage) -> list[str]:
    return sorted(obj.key for obj in objectstore.list_artifact_objects(storage))


def test_it_round_trips_a_registered_file(any_storage, registered_model, publisher):
    payload = bytes(range(256)) * 5000  # 1.28 MB: several read chunks
    version, created = services.version_register(
        registered_model=registered_model,
        created_by=publisher,
        files=[IncomingFile(path="weights/model.bin", stream=io.BytesIO(payload))],
        metadata={"files": {"weights/model.bin": {"sha256": hashlib.sha256(payload).hexdigest()}}},
    )
    assert created and version.status == VersionStatus.READY
    record = ArtifactFile.objects.get(version=version)
    assert (record.size, record.sha256) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert record.storage_key.startswith(f"artifacts/{registered_model.pk}/")
    assert stored_keys(any_storage) == [record.storage_key]
    assert b"".join(iter_file(any_storage, record.storage_key)) == payload
    assert b"".join(iter_file(any_storage, record.storage_key, start=10, length=5)) == payload[10:15]
    assert objectstore.hash_object(any_storage, record.storage_key) == (record.size, record.sha256)


def test_it_stores_nothing_on_a_checksum_mismatch(any_storage, registered_model, publisher):
    with pytest.raises(ChecksumMismatch) as err:
        services.version_register(
            registered_model=registered_model,
            created_by=publisher,
            files=[IncomingFile(path="model.bin", stream=io.BytesIO(b"real bytes"))],
            metadata={"files": {"model.bin": {"sha256": "0" * 64}}},
        )
    assert err.value.field == "files.model.bin.sha256"
    assert not ModelVersion.objects.exists()
    assert stored_keys(any_storage) == []


class BreaksHalfway(io.RawIOBase):
    """A 3 MB upload stream that calls ``on_break`` once half of it has been read."""

    def __init__(self, on_break, size=3 * 1024 * 1024):
        self._data = io.BytesIO(b"x" * size)
        self._on_break = on_break
        self._half = size // 2

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._data.tell() >= self._half and self._on_break:
            hook, self._on_break = self._on_break, None
            hook()
        return self._data.readinto(buffer)


def _client_went_away():
    raise OSError("connection reset by the client")


def test_it_keeps_nothing_when_the_stream_fails_mid_file(any_storage, registered_model, publisher):
    files = [
        IncomingFile(path="a.bin", stream=io.BytesIO(b"first file")),
        IncomingFile(path="b.bin", stream=io.BufferedReader(BreaksHalfway(_client_went_away))),
    ]
    with pytest.raises(StorageUnavailable) as err:
        services.version_register(registered_model=registered_model, created_by=publisher, files=files)
    assert "b.bin" in str(err.value)
    assert not ModelVersion.objects.filter(status=VersionStatus.READY).exists()
    assert not ArtifactFile.objects.exists()
    assert stored_keys(any_storage) == []


def test_it_keeps_nothing_when_the_bucket_goes_away_mid_file(
    s3_storage, s3_server, registered_model, publisher
):
    files = [
        IncomingFile(path="a.bin", stream=io.BytesIO(b"first file")),
        IncomingFile(path="b.bin", stream=io.BufferedReader(BreaksHalfway(s3_server.stop))),
    ]
    try:
        with pytest.raises(StorageUnavailable) as err:
            services.version_register(registered_model=registered_model, created_by=publisher, files=files)
    finally:
        s3_server.start()
    assert "b.bin" in str(err.value) and "nothing was registered" in str(err.value)
    assert not ModelVersion.objects.exists()
    assert not ArtifactFile.objects.exists()
    # a.bin had been stored before the outage; its removal failed then, so gc_artifacts owns it now.
    leftovers = stored_keys(s3_storage)
    assert len(leftovers) <= 1


def test_it_records_the_digest_of_what_was_stored_for_a_large_file_stream(
    any_storage, registered_model, publisher, tmp_path
):
    """A file-backed upload larger than one S3 part (as Django spools big uploads to disk)."""
    payload = os.urandom(9 * 1024 * 1024)
    spooled = tmp_path / "upload.tmp"
    spooled.write_bytes(payload)
    with spooled.open("rb") as stream:
        version, _ = services.version_register(
            registered_model=registered_model,
            created_by=publisher,
            files=[IncomingFile(path="big.bin", stream=stream)],
            metadata={"files": {"big.bin": {"sha256": hashlib.sha256(payload).hexdigest()}}},
        )
    record = version.files.get()
    assert objectstore.hash_object(any_storage, record.storage_key) == (len(payload), record.sha256)
    assert stored_keys(any_storage) == [record.storage_key]
