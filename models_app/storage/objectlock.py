"""S3 Object Lock where the bucket has it, and the store operations of purges, holds and ledger anchors.

A bucket created with Object Lock (``ObjectLockEnabledForBucket``) is versioned and accepts per-object
legal holds (``PutObjectLegalHold``) and retention dates; the registry mirrors its legal holds onto the
objects of held versions, and writes its ledger checkpoints with a retention date. A purge removes every
stored version of an object, so a versioned bucket does not keep the bytes as a "noncurrent" version.

On the filesystem backend holds are recorded in the database only, and checkpoints are ordinary files.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from models_app.storage.objectstore import (
    _bucket_key,
    _client,
    _error_code,
    _is_missing,
    is_s3,
    storage_errors,
)

# How long a bucket's Object Lock setting is remembered by a process (it is a bucket-level setting
# that an operator changes rarely; a changed setting is seen within this time).
LOCK_CACHE_SECONDS = 300.0


def object_lock_enabled(storage: Storage) -> bool:
    """Whether the artifact bucket has S3 Object Lock enabled (never on the filesystem)."""
    if not is_s3(storage):
        return False
    cached = getattr(storage, "_registry_object_lock", None)
    if cached is not None and time.monotonic() - cached[1] < LOCK_CACHE_SECONDS:
        return cached[0]
    with storage_errors("Reading the bucket's Object Lock configuration"):
        try:
            answer = _client(storage).get_object_lock_configuration(Bucket=storage.bucket_name)
            enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        except ClientError as exc:
            if _error_code(exc) not in (
                "ObjectLockConfigurationNotFoundError",
                "NoSuchObjectLockConfiguration",
            ):
                raise
            enabled = False
    storage._registry_object_lock = (enabled, time.monotonic())
    return enabled


def set_legal_hold(storage: Storage, keys: Iterable[str], *, on: bool) -> int:
    """Turn the S3 legal hold of each object on or off; returns how many objects were changed.

    Does nothing (0) unless the bucket has Object Lock. A failure raises StorageUnavailable naming it.
    """
    if not object_lock_enabled(storage):
        return 0
    client, changed = _client(storage), 0
    status = "ON" if on else "OFF"
    with storage_errors("Setting the S3 legal hold of a stored file"):
        for key in keys:
            client.put_object_legal_hold(
                Bucket=storage.bucket_name, Key=_bucket_key(storage, key), LegalHold={"Status": status}
            )
            changed += 1
    return changed


def legal_hold_on(storage: Storage, key: str) -> bool:
    """Whether the object's S3 legal hold is on (False without Object Lock or without a hold)."""
    if not object_lock_enabled(storage):
        return False
    with storage_errors("Reading the S3 legal hold of a stored file"):
        try:
            answer = _client(storage).get_object_legal_hold(
                Bucket=storage.bucket_name, Key=_bucket_key(storage, key)
            )
        except ClientError as exc:
            if _is_missing(exc) or _error_code(exc) == "NoSuchObjectLockConfiguration":
                return False
            raise
    return answer.get("LegalHold", {}).get("Status") == "ON"


def purge_object(storage: Storage, key: str) -> None:
    """Remove the stored bytes of ``key`` for good: on S3 every version of the object (and its delete
    markers), so that neither a versioned nor an Object Lock bucket keeps them; an object that is
    already gone is fine. An object S3 refuses to delete (a legal hold or retention placed on it)
    raises StorageUnavailable naming the refusal."""
    if not is_s3(storage):
        with contextlib.suppress(FileNotFoundError):
            storage.delete(key)
        return
    client, bucket, name = _client(storage), storage.bucket_name, _bucket_key(storage, key)
    with storage_errors("Purging a stored file"):
        pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=name)
        for page in pages:
            for entry in [*page.get("Versions", ()), *page.get("DeleteMarkers", ())]:
                if entry["Key"] == name:
                    client.delete_object(Bucket=bucket, Key=name, VersionId=entry["VersionId"])


# -- ledger checkpoints ------------------------------------------------------------------------------


def write_once(
    storage: Storage, key: str, data: bytes, *, retain_until: datetime | None = None, mode: str = "GOVERNANCE"
) -> bool:
    """Store ``data`` under a new ``key``; with Object Lock on the bucket, under ``mode`` retention until
    ``retain_until``. Returns whether the object is under Object Lock retention."""
    if is_s3(storage):
        params: dict = {"Bucket": storage.bucket_name, "Key": _bucket_key(storage, key), "Body": data}
        params["ContentType"] = "application/json"
        locked = retain_until is not None and object_lock_enabled(storage)
        if locked:
            params.update(ObjectLockMode=mode, ObjectLockRetainUntilDate=retain_until)
        with storage_errors("Writing a ledger checkpoint"):
            _client(storage).put_object(**params)
        return locked
    with storage_errors("Writing a ledger checkpoint"):
        saved = storage.save(key, ContentFile(data))
    if saved != key:
        storage.delete(saved)
        raise FileExistsError(f"a checkpoint named {key!r} exists already")
    return False


def list_keys(storage: Storage, prefix: str) -> Iterator[str]:
    """The keys of the objects directly under ``prefix`` (a folder such as ``audit-anchors/``)."""
    if is_s3(storage):
        location = storage._normalize_name("")
        with storage_errors("Listing the ledger checkpoints"):
            pages = (
                _client(storage)
                .get_paginator("list_objects_v2")
                .paginate(Bucket=storage.bucket_name, Prefix=_bucket_key(storage, prefix).rstrip("/") + "/")
            )
            for page in pages:
                for entry in page.get("Contents", ()):
                    key = entry["Key"]
                    yield key[len(location) :].lstrip("/") if location else key
        return
    with storage_errors("Listing the ledger checkpoints"):
        try:
            _dirs, files = storage.listdir(prefix.rstrip("/"))
        except FileNotFoundError:
            return
    for name in sorted(files):
        yield f"{prefix.rstrip('/')}/{name}"


def read_bytes(storage: Storage, key: str, *, limit: int = 1024 * 1024) -> bytes:
    """A small stored object, whole (at most ``limit`` bytes are read)."""
    with storage_errors("Reading a ledger checkpoint"):
        if is_s3(storage):
            body = _client(storage).get_object(Bucket=storage.bucket_name, Key=_bucket_key(storage, key))[
                "Body"
            ]
            try:
                return body.read(limit)
            finally:
                body.close()
        with storage.open(key, "rb") as fh:
            return fh.read(limit)


def retention_of(storage: Storage, key: str) -> tuple[str, datetime] | None:
    """The Object Lock (mode, retain-until) of a stored object, or None."""
    if not is_s3(storage):
        return None
    with storage_errors("Reading a ledger checkpoint"):
        head = _client(storage).head_object(Bucket=storage.bucket_name, Key=_bucket_key(storage, key))
    if "ObjectLockMode" not in head:
        return None
    return head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]
