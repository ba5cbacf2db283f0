"""Holds, purges and ledger checkpoints on a bucket with S3 Object Lock (the local S3 API server): a hold is
placed on the objects too and lifted with it, a purge removes every stored version, a checkpoint carries a
retention date the bucket enforces."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from django.utils import timezone

from models_app import services
from models_app.audit_anchor import anchor_write, verify_ledger
from models_app.choices import Stage, VersionStatus
from models_app.exceptions import StorageUnavailable
from models_app.models import ArtifactFile, LedgerEntry, LegalHold
from models_app.storage import objectlock
from tests.conftest import register

pytestmark = pytest.mark.s3


def client_of(storage):
    return storage.connection.meta.client


def legal_hold(storage, key) -> str:
    answer = client_of(storage).get_object_legal_hold(Bucket=storage.bucket_name, Key=key)
    return answer["LegalHold"]["Status"]


def versions_of(storage, key) -> list[str]:
    listing = client_of(storage).list_object_versions(Bucket=storage.bucket_name, Prefix=key)
    found = [*listing.get("Versions", ()), *listing.get("DeleteMarkers", ())]
    return [v["VersionId"] for v in found if v["Key"] == key]


def keys_of(version) -> list[str]:
    return sorted(ArtifactFile.objects.filter(version=version).values_list("storage_key", flat=True))


@pytest.fixture
def archived_pair(registered_model, publisher, reviewer):
    """v1 and v2, both Archived, two files each."""
    versions = []
    for n in (1, 2):
        v = register(registered_model, publisher, files={"a.bin": b"a" * n * 100, "b.bin": b"b" * 10})
        services.version_transition(version=v, to=Stage.ARCHIVED, actor=reviewer)
        versions.append(v)
    return versions


def test_object_lock_is_detected(s3_locked_storage, s3_storage):
    assert objectlock.object_lock_enabled(s3_locked_storage) is True
    assert objectlock.object_lock_enabled(s3_storage) is False


def test_a_version_hold_is_placed_on_its_objects_and_lifted_with_it(
    s3_locked_storage, archived_pair, governance
):
    v1, v2 = archived_pair
    hold = services.version_hold(version=v1, actor=governance, reason="Litigation 2024-17.")
    assert hold.object_lock is True
    assert [legal_hold(s3_locked_storage, k) for k in keys_of(v1)] == ["ON", "ON"]
    assert not any(objectlock.legal_hold_on(s3_locked_storage, k) for k in keys_of(v2))
    row = LedgerEntry.objects.filter(kind="hold_placed").get()
    assert row.details["object_lock"] is True and row.details["objects"] == 2

    # The bucket itself now refuses to delete the held bytes, whatever the registry does.
    key = keys_of(v1)[0]
    with pytest.raises(ClientError) as refused:
        client_of(s3_locked_storage).delete_object(
            Bucket=s3_locked_storage.bucket_name, Key=key, VersionId=versions_of(s3_locked_storage, key)[0]
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    services.hold_release(version=v1, actor=governance, reason="Case closed.")
    assert [legal_hold(s3_locked_storage, k) for k in keys_of(v1)] == ["OFF", "OFF"]


def test_overlapping_holds_keep_the_objects_held_until_the_last_is_released(
    s3_locked_storage, archived_pair, registered_model, governance
):
    v1, v2 = archived_pair
    services.version_hold(version=v1, actor=governance, reason="Litigation.")
    services.model_hold(registered_model=registered_model, actor=governance, reason="Audit.")
    assert {legal_hold(s3_locked_storage, k) for k in keys_of(v1) + keys_of(v2)} == {"ON"}
    services.hold_release(registered_model=registered_model, actor=governance, reason="Audit over.")
    # v1 keeps its own hold; v2 was held by the model's only.
    assert {legal_hold(s3_locked_storage, k) for k in keys_of(v1)} == {"ON"}
    assert {legal_hold(s3_locked_storage, k) for k in keys_of(v2)} == {"OFF"}
    services.hold_release(version=v1, actor=governance, reason="Case closed.")
    assert {legal_hold(s3_locked_storage, k) for k in keys_of(v1)} == {"OFF"}


def test_a_version_registered_under_a_model_hold_gets_its_objects_held(
    s3_locked_storage, registered_model, publisher, governance, django_capture_on_commit_callbacks
):
    services.model_hold(registered_model=registered_model, actor=governance, reason="Audit.")
    with django_capture_on_commit_callbacks(execute=True):
        later = register(registered_model, publisher)
    assert [legal_hold(s3_locked_storage, k) for k in keys_of(later)] == ["ON"]


def test_a_purge_removes_every_stored_version_of_the_objects(
    s3_locked_storage, archived_pair, governance, django_capture_on_commit_callbacks
):
    v1, v2 = archived_pair
    keys = keys_of(v1)
    assert all(versions_of(s3_locked_storage, k) for k in keys)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.version_purge(version=v1, actor=governance, reason="Withdrawn.")
    assert result.errors == []
    # No current object, no noncurrent version and no delete marker is left: the bytes are gone.
    assert all(versions_of(s3_locked_storage, k) == [] for k in keys)
    assert all(versions_of(s3_locked_storage, k) for k in keys_of(v2))


def test_a_purge_on_a_plain_bucket_removes_the_objects(
    s3_storage, archived_pair, governance, django_capture_on_commit_callbacks
):
    keys = keys_of(archived_pair[0])
    with django_capture_on_commit_callbacks(execute=True):
        services.version_purge(version=archived_pair[0], actor=governance, reason="Withdrawn.")
    assert all(versions_of(s3_storage, k) == [] for k in keys)


def test_a_purge_the_bucket_refuses_is_reported_and_left_for_gc(
    s3_locked_storage, archived_pair, governance, django_capture_on_commit_callbacks
):
    v1 = archived_pair[0]
    key = keys_of(v1)[0]
    # A legal hold someone placed on the object outside the registry.
    client_of(s3_locked_storage).put_object_legal_hold(
        Bucket=s3_locked_storage.bucket_name, Key=key, LegalHold={"Status": "ON"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = services.version_purge(version=v1, actor=governance, reason="Withdrawn.")
    assert len(result.errors) == 1 and key in result.errors[0]
    v1.refresh_from_db()
    assert v1.status == VersionStatus.PURGED
    assert versions_of(s3_locked_storage, key)


def test_an_unreachable_bucket_refuses_the_hold_and_records_nothing(
    s3_locked_storage, s3_server, archived_pair, governance
):
    objectlock.object_lock_enabled(s3_locked_storage)  # remembered, as in a running process
    rows = LedgerEntry.objects.count()
    with s3_server.down(), pytest.raises(StorageUnavailable):
        services.version_hold(version=archived_pair[0], actor=governance, reason="Litigation.")
    assert not LegalHold.objects.exists()
    assert LedgerEntry.objects.count() == rows


def test_a_checkpoint_is_written_under_object_lock_retention(s3_locked_storage, settings, archived_pair):
    settings.REGISTRY_AUDIT_ANCHOR_KEY = "anchor-test-key-" + "x" * 32
    result = anchor_write()
    assert result.written and result.locked and result.name.startswith("audit-anchors/")
    mode, until = objectlock.retention_of(s3_locked_storage, result.name)
    assert mode == "GOVERNANCE"
    days = (until - timezone.now()).total_seconds() / 86400
    assert (
        settings.REGISTRY_AUDIT_ANCHOR_RETENTION_DAYS - 1
        < days
        <= settings.REGISTRY_AUDIT_ANCHOR_RETENTION_DAYS
    )
    body = json.loads(objectlock.read_bytes(s3_locked_storage, result.name))
    assert body["count"] == LedgerEntry.objects.count() and body["head_hash"] == result.head_hash
    assert len(body["signature"]) == 64
    version_id = versions_of(s3_locked_storage, result.name)[0]
    with pytest.raises(ClientError) as refused:
        client_of(s3_locked_storage).delete_object(
            Bucket=s3_locked_storage.bucket_name, Key=result.name, VersionId=version_id
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert verify_ledger().anchor.status == "consistent"
