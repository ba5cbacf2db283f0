"""Direct-to-bucket uploads through the services: multi-part, verification, refusal and clean-up."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from models_app import services
from models_app.choices import EventType, LedgerKind, UploadStatus, VersionStatus
from models_app.exceptions import (
    ChecksumMismatch,
    DirectUploadUnavailable,
    NotAllowed,
    StorageUnavailable,
    UploadClosed,
    UploadIncomplete,
)
from models_app.models import ArtifactFile, Event, LedgerEntry, UploadSession
from models_app.services import DeclaredFile
from models_app.storage import objectstore
from tests.conftest import nothing_written

MiB = 1024 * 1024


def begin(model, user, files: dict[str, bytes], *, sha256: dict[str, str] | None = None, **kw):
    declared = [
        DeclaredFile(path=p, size=len(data), sha256=(sha256 or {}).get(p) or hashlib.sha256(data).hexdigest())
        for p, data in files.items()
    ]
    return services.version_upload_begin(
        registered_model=model, actor=user, files=declared, metadata=kw.pop("metadata", None), **kw
    )


def put_parts(storage, session, files: dict[str, bytes], *, skip: set[tuple[str, int]] = frozenset()):
    """What a client does: PUT each part's bytes to its presigned URL, straight to the bucket."""
    with httpx.Client(timeout=30) as client:
        for upload in session.files.all():
            data = files[upload.path]
            for target in objectstore.part_targets(
                storage,
                key=upload.storage_key,
                upload_id=upload.upload_id,
                size=upload.size,
                part_size=session.part_size,
                expires=60,
            ):
                if (upload.path, target.part_number) in skip:
                    continue
                answer = client.put(target.url, content=data[target.offset : target.offset + target.size])
                assert answer.status_code == 200, answer.text


def bucket_keys(storage):
    return sorted(o.key for o in objectstore.list_artifact_objects(storage))


def pending_uploads(storage):
    return list(objectstore.list_multipart_uploads(storage))


def test_it_uploads_a_file_larger_than_one_part(s3_storage, small_parts, registered_model, publisher):
    big = os.urandom(11 * MiB)  # parts of 5, 5 and 1 MiB
    files = {"weights/model.bin": big, "config.json": b'{"layers": 4}'}
    session = begin(registered_model, publisher, files, metadata={"metrics": {"auc": 0.97}})
    assert session.version.status == VersionStatus.PENDING and session.version.version == 1
    assert session.part_size == 5 * MiB
    assert {f.path: f.part_count for f in session.files.all()} == {"weights/model.bin": 3, "config.json": 1}
    assert not ArtifactFile.objects.exists()

    put_parts(s3_storage, session, files)
    version = services.version_upload_complete(session=session, actor=publisher)

    assert version.status == VersionStatus.READY and version.metrics == {"auc": 0.97}
    records = {r.path: r for r in ArtifactFile.objects.filter(version=version)}
    assert records["weights/model.bin"].size == len(big)
    assert records["weights/model.bin"].sha256 == hashlib.sha256(big).hexdigest()
    assert objectstore.hash_object(s3_storage, records["weights/model.bin"].storage_key) == (
        len(big),
        hashlib.sha256(big).hexdigest(),
    )
    assert bucket_keys(s3_storage) == sorted(r.storage_key for r in records.values())
    assert pending_uploads(s3_storage) == []
    session.refresh_from_db()
    assert session.status == UploadStatus.COMPLETED
    row = LedgerEntry.objects.get(version=version, kind=LedgerKind.REGISTERED)
    assert row.details["direct_upload"] is True and row.details["bytes"] == len(big) + 13
    # A retried completion returns the same version.
    assert services.version_upload_complete(session=session, actor=publisher).pk == version.pk


def test_it_refuses_a_wrong_checksum_and_removes_the_bytes(s3_storage, registered_model, publisher):
    files = {"model.bin": b"the real weights"}
    session = begin(registered_model, publisher, files, sha256={"model.bin": "ab" * 32})
    put_parts(s3_storage, session, files)
    with pytest.raises(ChecksumMismatch) as err:
        services.version_upload_complete(session=session, actor=publisher)
    assert err.value.field == "files.model.bin.sha256"
    assert "model.bin" in str(err.value)
    session.refresh_from_db()
    version = session.version
    version.refresh_from_db()
    assert (session.status, version.status, version.version) == (UploadStatus.FAILED, VersionStatus.FAILED, 1)
    assert not ArtifactFile.objects.exists()
    assert bucket_keys(s3_storage) == [] and pending_uploads(s3_storage) == []
    failed = Event.objects.get(type=EventType.VERSION_FAILED)
    assert failed.payload["code"] == "checksum_mismatch" and failed.payload["files"] == ["model.bin"]
    # The failed version keeps its number; the next one is v2.
    assert begin(registered_model, publisher, files).version.version == 2
    with nothing_written(), pytest.raises(UploadClosed):
        services.version_upload_complete(session=session, actor=publisher)


def test_it_refuses_parts_that_do_not_add_up_to_the_declared_size(s3_storage, registered_model, publisher):
    session = begin(registered_model, publisher, {"model.bin": b"0123456789"})
    put_parts(s3_storage, session, {"model.bin": b"01234"})
    with pytest.raises(ChecksumMismatch) as err:
        services.version_upload_complete(session=session, actor=publisher)
    assert err.value.field == "files.model.bin.size"
    assert bucket_keys(s3_storage) == [] and pending_uploads(s3_storage) == []


def test_it_keeps_the_session_open_while_parts_are_missing(
    s3_storage, small_parts, registered_model, publisher
):
    data = os.urandom(6 * MiB)
    session = begin(registered_model, publisher, {"model.bin": data})
    put_parts(s3_storage, session, {"model.bin": data}, skip={("model.bin", 2)})
    with nothing_written(), pytest.raises(UploadIncomplete) as err:
        services.version_upload_complete(session=session, actor=publisher)
    assert "part(s) 2 of 2" in str(err.value)
    session.refresh_from_db()
    assert session.status == UploadStatus.OPEN
    put_parts(s3_storage, session, {"model.bin": data})
    assert services.version_upload_complete(session=session, actor=publisher).status == VersionStatus.READY


def test_it_answers_storage_unavailable_when_the_bucket_is_down_and_can_retry(
    s3_storage, s3_server, registered_model, publisher
):
    files = {"model.bin": b"weights"}
    session = begin(registered_model, publisher, files)
    with s3_server.down():
        with pytest.raises(httpx.ConnectError):
            put_parts(s3_storage, session, files)
        with pytest.raises(StorageUnavailable) as err:
            services.version_upload_complete(session=session, actor=publisher)
        assert "unreachable" in str(err.value)
        session.refresh_from_db()
        assert session.status == UploadStatus.OPEN and session.version.status == VersionStatus.PENDING
        assert not ArtifactFile.objects.exists()
    put_parts(s3_storage, session, files)
    assert services.version_upload_complete(session=session, actor=publisher).status == VersionStatus.READY


def test_it_refuses_to_begin_when_the_bucket_is_down(s3_storage, s3_server, registered_model, publisher):
    with s3_server.down(), pytest.raises(StorageUnavailable):
        begin(registered_model, publisher, {"model.bin": b"x"})
    assert not UploadSession.objects.exists()
    registered_model.refresh_from_db()
    assert registered_model.last_version_number == 0


def test_it_aborts_and_removes_the_parts(s3_storage, registered_model, publisher, outsider):
    files = {"model.bin": b"partial"}
    session = begin(registered_model, publisher, files)
    put_parts(s3_storage, session, files)
    with nothing_written(), pytest.raises(NotAllowed):
        services.version_upload_abort(session=session, actor=outsider)
    session = services.version_upload_abort(session=session, actor=publisher)
    assert session.status == UploadStatus.ABORTED
    session.version.refresh_from_db()
    assert session.version.status == VersionStatus.FAILED
    assert pending_uploads(s3_storage) == [] and bucket_keys(s3_storage) == []


def test_it_expires_abandoned_uploads(s3_storage, registered_model, publisher):
    files = {"model.bin": b"abandoned"}
    stale = begin(registered_model, publisher, files)
    fresh = begin(registered_model, publisher, {"other.bin": b"still going"})
    put_parts(s3_storage, stale, files)
    UploadSession.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    expired = services.upload_session_expire_stale()

    assert [s.pk for s in expired] == [stale.pk]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (UploadStatus.ABORTED, UploadStatus.OPEN)
    assert [u.upload_id for u in pending_uploads(s3_storage)] == [fresh.files.get().upload_id]
    with nothing_written(), pytest.raises(UploadClosed):
        services.version_upload_complete(session=stale, actor=publisher)


def test_it_needs_s3_for_direct_upload(registered_model, publisher):
    with nothing_written(), pytest.raises(DirectUploadUnavailable) as err:
        begin(registered_model, publisher, {"model.bin": b"x"})
    assert "REGISTRY_STORAGE=s3" in str(err.value)
    assert not UploadSession.objects.exists()


def test_it_refuses_an_outsider_before_touching_the_bucket(s3_storage, registered_model, outsider):
    with nothing_written(), pytest.raises(NotAllowed):
        begin(registered_model, outsider, {"model.bin": b"x"})
    assert pending_uploads(s3_storage) == []


def test_it_returns_the_same_session_for_a_retried_begin(s3_storage, registered_model, publisher):
    first = begin(registered_model, publisher, {"model.bin": b"x"}, idempotency_key="run-42")
    again = begin(registered_model, publisher, {"model.bin": b"x"}, idempotency_key="run-42")
    assert again.pk == first.pk
    assert len(pending_uploads(s3_storage)) == 1
