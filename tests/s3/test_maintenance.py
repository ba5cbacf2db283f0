"""verify_artifacts and gc_artifacts on both backends."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from models_app import services
from models_app.choices import UploadStatus
from models_app.models import ArtifactFile
from models_app.services import DeclaredFile
from models_app.storage import objectstore
from models_app.storage.artifacts import new_storage_key
from tests.conftest import register


def run(name, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


def overwrite(storage, key: str, data: bytes) -> None:
    """Corrupt a stored object behind the registry's back."""
    if objectstore.is_s3(storage):
        storage.connection.meta.client.put_object(Bucket=storage.bucket_name, Key=key, Body=data)
    else:
        with open(storage.path(key), "wb") as fh:
            fh.write(data)


def keys(storage):
    return sorted(o.key for o in objectstore.list_artifact_objects(storage))


def test_verify_passes_when_every_file_matches(any_storage, registered_model, publisher):
    register(registered_model, publisher, files={"a.bin": b"alpha", "b/c.bin": b"beta"})
    code, out = run("verify_artifacts")
    assert code == 0
    assert "2 files checked, 0 problems." in out


def test_verify_reports_mismatches_and_missing_objects(any_storage, registered_model, publisher, team):
    v1 = register(registered_model, publisher, files={"a.bin": b"alpha", "b.bin": b"beta"})
    other = services.registered_model_create(name="other-model", team=team, actor=publisher)
    register(other, publisher, files={"x.bin": b"untouched"})
    a, b = ArtifactFile.objects.filter(version=v1).order_by("path")
    overwrite(any_storage, a.storage_key, b"ALPHA")  # same size, other bytes
    any_storage.delete(b.storage_key)

    code, out = run("verify_artifacts")

    assert code == 1
    assert f"MISMATCH fraud-detector v1 a.bin ({a.storage_key}): SHA-256" in out
    assert f"MISSING fraud-detector v1 b.bin ({b.storage_key})" in out
    assert "3 files checked, 2 problems." in out
    assert "x.bin" not in out
    code, out = run("verify_artifacts", "--model", "other-model")
    assert (code, "1 files checked, 0 problems." in out) == (0, True)


def test_verify_reports_a_size_difference(any_storage, registered_model, publisher):
    v1 = register(registered_model, publisher, files={"a.bin": b"alpha"})
    overwrite(any_storage, v1.files.get().storage_key, b"alpha and more")
    code, out = run("verify_artifacts")
    assert code == 1 and "size 14, recorded 5" in out


def test_gc_deletes_only_old_unreferenced_objects(any_storage, registered_model, publisher):
    version = register(registered_model, publisher, files={"kept.bin": b"referenced"})
    orphan = any_storage.save(new_storage_key(registered_model.pk), ContentFile(b"left by a crash"))
    referenced = version.files.get().storage_key

    code, out = run("gc_artifacts")  # default grace: 24 hours
    assert code == 0 and "0 objects deleted" in out and "1 younger than 24 h kept" in out
    assert keys(any_storage) == sorted([orphan, referenced])

    code, out = run("gc_artifacts", "--dry-run", "--grace-hours", "0")
    assert f"would delete {orphan}" in out and keys(any_storage) == sorted([orphan, referenced])

    code, out = run("gc_artifacts", "--grace-hours", "0")
    assert code == 0 and f"deleted {orphan}" in out and "1 referenced" in out
    assert keys(any_storage) == [referenced]


def test_gc_removes_leftovers_of_a_failed_registration(s3_storage, s3_server, registered_model, publisher):
    from models_app.exceptions import StorageUnavailable
    from models_app.models import ModelVersion
    from models_app.storage.artifacts import IncomingFile
    from tests.conftest import BreaksHalfway

    files = [
        IncomingFile(path="a.bin", stream=io.BytesIO(b"stored before the outage")),
        IncomingFile(path="b.bin", stream=io.BufferedReader(BreaksHalfway(s3_server.stop))),
    ]
    try:
        with pytest.raises(StorageUnavailable) as err:
            services.version_register(registered_model=registered_model, actor=publisher, files=files)
    finally:
        s3_server.start()
    assert "b.bin" in str(err.value) and "nothing was registered" in str(err.value)
    assert not ModelVersion.objects.exists()
    assert not ArtifactFile.objects.exists()
    # a.bin had been stored before the outage; its removal failed then, so gc_artifacts owns it now.
    assert len(keys(s3_storage)) <= 1
    run("gc_artifacts", "--grace-hours", "0")
    assert keys(s3_storage) == []


def test_gc_aborts_stale_multipart_uploads_but_not_open_sessions(s3_storage, registered_model, publisher):
    session = services.version_upload_begin(
        registered_model=registered_model,
        actor=publisher,
        files=[DeclaredFile(path="m.bin", size=3, sha256="a" * 64)],
    )
    stray_key = new_storage_key(registered_model.pk)
    stray = objectstore.multipart_create(s3_storage, stray_key, content_type="application/octet-stream")

    code, out = run("gc_artifacts", "--grace-hours", "0")

    assert code == 0 and f"aborted multipart upload of {stray_key}" in out
    left = [u.upload_id for u in objectstore.list_multipart_uploads(s3_storage)]
    assert left == [session.files.get().upload_id] and stray not in left
    session.refresh_from_db()
    assert session.status == UploadStatus.OPEN


def test_gc_fails_clearly_when_the_bucket_is_unreachable(db, s3_storage, s3_server):
    with s3_server.down():
        code, out = run("gc_artifacts")
    assert code == 2 and "unreachable" in out


def test_cleanup_uploads_reports_nothing_to_do(db):
    code, out = run("cleanup_uploads")
    assert code == 0 and "0 abandoned uploads aborted." in out
