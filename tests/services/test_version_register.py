"""Registering versions through the core service; the artifact tests run on the filesystem and on S3."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.storage import FileSystemStorage

from models_app import services
from models_app.choices import LedgerKind, Stage, VersionStatus
from models_app.exceptions import (
    ChecksumMismatch,
    InvalidArtifactPath,
    InvalidInput,
    NotAllowed,
    StorageUnavailable,
)
from models_app.models import ArtifactFile, LedgerEntry, ModelVersion
from models_app.storage import objectstore
from models_app.storage.artifacts import IncomingFile, artifact_storage, iter_file
from tests.conftest import BreaksHalfway, nothing_written, register, stored_keys


def test_it_numbers_versions_from_one_without_gaps(registered_model, publisher, publisher2):
    numbers = [register(registered_model, user).version for user in (publisher, publisher2, publisher)]
    assert numbers == [1, 2, 3]
    registered_model.refresh_from_db()
    assert registered_model.last_version_number == 3


def test_it_stores_every_file_with_size_and_sha256(any_storage, registered_model, publisher):
    # 1.28 MB: several read chunks on either backend
    files = {"model.bin": bytes(range(256)) * 5000, "weights/extra/config.json": b'{"layers": 3}'}
    version = register(registered_model, publisher, files=files)
    assert version.status == VersionStatus.READY
    assert version.stage == Stage.NONE
    records = {f.path: f for f in version.files.all()}
    assert set(records) == set(files)
    for path, data in files.items():
        assert records[path].size == len(data)
        assert records[path].sha256 == hashlib.sha256(data).hexdigest()
        key = records[path].storage_key
        with artifact_storage().open(key) as fh:
            assert fh.read() == data
        assert b"".join(iter_file(any_storage, key)) == data
        assert b"".join(iter_file(any_storage, key, start=10, length=5)) == data[10:15]
        assert objectstore.hash_object(any_storage, key) == (len(data), hashlib.sha256(data).hexdigest())
        # The storage key is the server's, never the client's label.
        assert path not in key
        assert key.startswith(f"artifacts/{registered_model.pk}/")
    assert stored_keys(any_storage) == sorted(r.storage_key for r in records.values())
    row = LedgerEntry.objects.get(version=version)
    assert row.kind == LedgerKind.REGISTERED
    assert row.to_stage == Stage.NONE


def test_it_keeps_the_metadata(registered_model, publisher):
    parent = register(registered_model, publisher)
    metadata = {
        "source": {
            "repository": "https://github.com/acme/fraud",
            "commit": "a" * 40,
            "branch": "main",
            "dirty": True,
        },
        "datasets": [{"uri": "s3://data/train.parquet", "version": "7", "digest": "sha256:abc"}],
        "parameters": {"lr": 0.01, "layers": [64, 32]},
        "metrics": {"accuracy": 0.93, "latency_p95_ms": 31},
        "environment": {"python_version": "3.11.7", "framework": "torch", "libraries": {"numpy": "2.1"}},
        "signature": {"inputs": [{"name": "amount", "type": "float"}]},
        "description": "Retrained on October data.",
        "tags": {"owner": "fraud"},
        "run_url": "https://mlflow.example.com/runs/12",
        "parent_version": parent.version,
    }
    version = register(registered_model, publisher, metadata=metadata)
    assert version.source_commit == "a" * 40
    assert version.source_dirty is True
    assert version.datasets == metadata["datasets"]
    assert version.parameters == metadata["parameters"]
    assert version.metrics == metadata["metrics"]
    assert version.environment["libraries"] == {"numpy": "2.1"}
    assert version.parent == parent
    assert list(parent.children.all()) == [version]


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"metrics": {"accuracy": "high"}}, "metrics.accuracy"),
        ({"metrics": {"accuracy": float("nan")}}, "metrics.accuracy"),
        ({"source": {"commit": "not-a-sha"}}, "source.commit"),
        ({"source": {"dirty": "yes"}}, "source.dirty"),
        ({"datasets": [{"version": "1"}]}, "datasets[0].uri"),
        ({"datasets": "s3://x"}, "datasets"),
        ({"parameters": [1, 2]}, "parameters"),
        ({"run_url": "javascript:alert(1)"}, "run_url"),
        ({"parent_version": 99}, "parent_version"),
        ({"tags": {"k": {"nested": 1}}}, "tags.k"),
        ({"unknown_field": 1}, "metadata"),
        ({"files": {"model.bin": {"sha256": "xyz"}}}, "files.model.bin.sha256"),
        ({"files": {"other.bin": {"sha256": "a" * 64}}}, "files"),
    ],
)
def test_it_refuses_bad_metadata_naming_the_field(registered_model, publisher, metadata, field):
    with pytest.raises(InvalidInput) as exc:
        register(registered_model, publisher, metadata=metadata)
    assert exc.value.field == field
    assert not ModelVersion.objects.exists()
    assert stored_keys(artifact_storage()) == []


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../escape.bin",
        "a/../../b",
        "a\\b.bin",
        "nul\x00.bin",
        "ctl\x07.bin",
        "a//b",
        "./a",
        "C:x",
        "",
    ],
)
def test_it_refuses_unsafe_paths_and_keeps_nothing(any_storage, registered_model, publisher, path):
    with pytest.raises(InvalidArtifactPath) as exc:
        register(registered_model, publisher, files={path: b"x"})
    assert exc.value.field == "file"
    assert not ModelVersion.objects.exists()
    assert stored_keys(any_storage) == []


def test_it_refuses_a_duplicate_path(any_storage, registered_model, publisher):
    incoming = [IncomingFile("m.bin", io.BytesIO(b"1")), IncomingFile("m.bin", io.BytesIO(b"2"))]
    with pytest.raises(InvalidInput) as exc:
        services.version_register(registered_model=registered_model, actor=publisher, files=incoming)
    assert exc.value.field == "file"
    assert stored_keys(any_storage) == []


def test_it_refuses_a_version_without_files(registered_model, publisher):
    with pytest.raises(InvalidInput):
        services.version_register(registered_model=registered_model, actor=publisher, files=[])


def test_a_checksum_mismatch_keeps_nothing(any_storage, registered_model, publisher):
    metadata = {"files": {"b.bin": {"sha256": "0" * 64}}}
    with pytest.raises(ChecksumMismatch) as exc:
        register(registered_model, publisher, files={"a.bin": b"aaa", "b.bin": b"bbb"}, metadata=metadata)
    assert exc.value.field == "files.b.bin.sha256"
    assert not ModelVersion.objects.exists()
    assert not ArtifactFile.objects.exists()
    assert stored_keys(any_storage) == []
    # The number was not consumed: the next registration is v1.
    assert register(registered_model, publisher).version == 1


def test_a_matching_declared_checksum_is_accepted(registered_model, publisher):
    data = b"exact bytes"
    metadata = {"files": {"m.bin": {"sha256": hashlib.sha256(data).hexdigest().upper()}}}
    version = register(registered_model, publisher, files={"m.bin": data}, metadata=metadata)
    assert version.files.get().sha256 == hashlib.sha256(data).hexdigest()


class FailingMidFileStorage(FileSystemStorage):
    """Writes part of the file, then fails like a full disk or a dropped connection."""

    def _save(self, name, content):
        path = self.path(name)
        import os

        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(content.read(10))
        raise OSError("No space left on device")


def test_a_storage_failure_mid_file_leaves_no_version_and_no_bytes(
    any_storage, registered_model, publisher, settings, artifact_root, request
):
    if objectstore.is_s3(any_storage):
        # The bucket goes away (connections refused) half-way through the upload.
        s3_server = request.getfixturevalue("s3_server")
        stream = io.BufferedReader(BreaksHalfway(s3_server.stop))
        restore = s3_server.start
    else:
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": f"{__name__}.FailingMidFileStorage",
                "OPTIONS": {"location": str(artifact_root)},
            },
        }
        stream, restore = io.BytesIO(b"a" * 100), lambda: None
    try:
        with pytest.raises(StorageUnavailable) as exc:
            services.version_register(
                registered_model=registered_model,
                actor=publisher,
                files=[IncomingFile(path="a.bin", stream=stream)],
            )
    finally:
        restore()
    assert "a.bin" in str(exc.value) and "nothing was registered" in str(exc.value)
    assert not ModelVersion.objects.exists()
    assert not ArtifactFile.objects.exists()
    assert stored_keys(artifact_storage()) == []


def _client_went_away():
    raise OSError("connection reset by the client")


def test_a_stream_failing_mid_file_keeps_nothing(any_storage, registered_model, publisher):
    files = [
        IncomingFile(path="a.bin", stream=io.BytesIO(b"first file")),
        IncomingFile(path="b.bin", stream=io.BufferedReader(BreaksHalfway(_client_went_away))),
    ]
    with pytest.raises(StorageUnavailable) as exc:
        services.version_register(registered_model=registered_model, actor=publisher, files=files)
    assert "b.bin" in str(exc.value)
    assert not ModelVersion.objects.filter(status=VersionStatus.READY).exists()
    assert not ArtifactFile.objects.exists()
    assert stored_keys(any_storage) == []


def test_a_retry_with_the_same_idempotency_key_returns_the_first_version(
    any_storage, registered_model, publisher
):
    first = register(registered_model, publisher, idempotency_key="build-42")
    incoming = [IncomingFile("model.bin", io.BytesIO(b"again"))]
    again, created = services.version_register(
        registered_model=registered_model, actor=publisher, files=incoming, idempotency_key="build-42"
    )
    assert created is False
    assert again.pk == first.pk
    assert ModelVersion.objects.count() == 1
    assert stored_keys(any_storage) == [first.files.get().storage_key]


def test_outsiders_and_reviewers_cannot_register(registered_model, outsider, reviewer):
    for user in (outsider, reviewer):
        with nothing_written(), pytest.raises(NotAllowed):
            register(registered_model, user)
    assert not ModelVersion.objects.exists()


def test_description_and_tags_are_the_only_editable_fields(registered_model, publisher):
    version = register(registered_model, publisher)
    services.version_update(version=version, actor=publisher, description="better", tags={"a": "b"})
    version.refresh_from_db()
    assert (version.description, version.tags) == ("better", {"a": "b"})
