"""What the registry needs from its object store beyond Django's Storage API.

Django's Storage covers save/open/delete for both backends. Direct-to-bucket transfers (presigned
multipart uploads and downloads), streaming reads that never buffer a whole object, and listings
with modification times need the S3 client underneath django-storages' S3Storage; the filesystem
backend gets equivalent streaming and listing here so the maintenance commands work on both.
Every failure to reach the store becomes StorageUnavailable (HTTP 503) with a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import Storage
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from models_app.exceptions import RegistryError, StorageUnavailable

CHUNK_SIZE = 1024 * 1024
ARTIFACT_PREFIX = "artifacts/"
# S3's limits for multipart uploads.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024**4
# SigV4 presigned URLs cannot live longer than a week.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def is_s3(storage: Storage) -> bool:
    """Whether ``storage`` is django-storages' S3 backend (direct transfers are possible)."""
    return isinstance(storage, S3Storage)


def _client(storage: S3Storage):
    return storage.connection.meta.client


def _bucket_key(storage: S3Storage, key: str) -> str:
    # S3Storage prefixes AWS_LOCATION; the client calls below must address the same object.
    return storage._normalize_name(clean_name(key))


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_missing(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or _error_code(exc) in ("NoSuchKey", "NoSuchUpload", "404")


@contextlib.contextmanager
def storage_errors(action: str, *, field: str | None = None):
    """Turn any failure to talk to the store into StorageUnavailable naming ``action``."""
    try:
        yield
    except (RegistryError, FileNotFoundError):
        raise
    except ClientError as exc:
        raise StorageUnavailable(
            f"{action} failed: the artifact storage answered {_error_code(exc) or 'an error'}. "
            "Nothing was changed; try again later.",
            field=field,
        ) from exc
    except (BotoCoreError, OSError) as exc:
        raise StorageUnavailable(
            f"{action} failed: the artifact storage is unreachable ({exc.__class__.__name__}). "
            "Nothing was changed; try again later.",
            field=field,
        ) from exc


# -- streaming reads ------------------------------------------------------------------------------


def _s3_chunks(body, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


def file_chunks(
    fh, *, start: int = 0, length: int | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Yield the bytes of an opened file (optionally a byte range) in chunks; closes it at the end."""
    try:
        if start:
            fh.seek(start)
        remaining = length
        while remaining is None or remaining > 0:
            data = fh.read(chunk_size if remaining is None else min(chunk_size, remaining))
            if not data:
                break
            if remaining is not None:
                remaining -= len(data)
            yield data
    finally:
        fh.close()


def open_stream(
    storage: Storage, key: str, *, start: int = 0, length: int | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Open ``key`` now and return an iterator over its bytes (optionally a range) in chunks.

    The object is opened before this returns, so an unreachable store or a missing object raises
    here (StorageUnavailable / FileNotFoundError) rather than half-way through a response. On S3 the
    body is streamed from the GET response; S3File would first copy the whole object locally.
    """
    if length == 0:
        return iter(())
    if is_s3(storage):
        params = {"Bucket": storage.bucket_name, "Key": _bucket_key(storage, key)}
        if start or length is not None:
            params["Range"] = f"bytes={start}-{'' if length is None else start + length - 1}"
        try:
            with storage_errors("Reading a stored file"):
                body = _client(storage).get_object(**params)["Body"]
        except StorageUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _is_missing(cause):
                raise FileNotFoundError(f"stored object {key} is missing") from cause
            raise
        return _s3_chunks(body, chunk_size)
    try:
        fh = storage.open(key, "rb")
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StorageUnavailable(
            f"Reading a stored file failed ({exc.__class__.__name__}); try again later."
        ) from exc
    return file_chunks(fh, start=start, length=length, chunk_size=chunk_size)


def hash_object(storage: Storage, key: str) -> tuple[int, str]:
    """Stream ``key`` from the store and return (size, sha256); never holds it whole."""
    digest = hashlib.sha256()
    size = 0
    with storage_errors("Reading a stored file"):
        for chunk in open_stream(storage, key):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def object_size(storage: Storage, key: str) -> int | None:
    """The stored size of ``key``, or None when there is no such object."""
    if is_s3(storage):
        with storage_errors("Checking a stored file"):
            try:
                head = _client(storage).head_object(Bucket=storage.bucket_name, Key=_bucket_key(storage, key))
            except ClientError as exc:
                if _is_missing(exc):
                    return None
                raise
        return int(head["ContentLength"])
    try:
        return storage.size(key)
    except FileNotFoundError:
        return None


# -- listing (maintenance) --------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredObject:
    """An object found in the store: its storage key (as the registry records it), size and mtime."""

    key: str
    size: int
    modified: datetime


def _bucket_listing(
    storage: S3Storage, operation: str, items: str, prefix: str
) -> Iterator[tuple[str, dict]]:
    """``(key, entry)`` for every item of a paginated bucket listing, the key as the registry records
    it (without the storage's AWS_LOCATION)."""
    location = storage._normalize_name("")
    pages = _client(storage).get_paginator(operation).paginate(Bucket=storage.bucket_name, Prefix=prefix)
    for page in pages:
        for entry in page.get(items, ()):
            key = entry["Key"]
            if location:
                key = key[len(location) :].lstrip("/")
            yield key, entry


def list_artifact_objects(storage: Storage) -> Iterator[StoredObject]:
    """Every stored object under ``artifacts/``, on S3 from the bucket listing, else via listdir."""
    if is_s3(storage):
        prefix = _bucket_key(storage, ARTIFACT_PREFIX)
        if not prefix.endswith("/"):
            prefix += "/"
        with storage_errors("Listing the bucket"):
            for key, entry in _bucket_listing(storage, "list_objects_v2", "Contents", prefix):
                yield StoredObject(key, int(entry["Size"]), entry["LastModified"])
        return
    yield from _walk(storage, ARTIFACT_PREFIX.rstrip("/"))


def _walk(storage: Storage, directory: str) -> Iterator[StoredObject]:
    with storage_errors("Listing the artifact folder"):
        try:
            dirs, files = storage.listdir(directory)
        except FileNotFoundError:
            return
        for name in sorted(files):
            key = f"{directory}/{name}"
            yield StoredObject(key, storage.size(key), storage.get_modified_time(key))
    for name in sorted(dirs):
        yield from _walk(storage, f"{directory}/{name}")


@dataclass(frozen=True)
class PendingMultipart:
    """An S3 multipart upload not yet completed or aborted."""

    key: str
    upload_id: str
    initiated: datetime


def list_multipart_uploads(storage: Storage) -> Iterator[PendingMultipart]:
    """Multipart uploads in progress under ``artifacts/`` (none outside S3)."""
    if not is_s3(storage):
        return
    prefix = _bucket_key(storage, ARTIFACT_PREFIX)
    with storage_errors("Listing multipart uploads"):
        for key, entry in _bucket_listing(storage, "list_multipart_uploads", "Uploads", prefix):
            yield PendingMultipart(key, entry["UploadId"], entry["Initiated"])


# -- direct transfers (S3 only) ---------------------------------------------------------------------


def plan_part_size(total: int, preferred: int) -> int:
    """The part size for a file of ``total`` bytes: ``preferred`` within S3's limits, and large
    enough that the file needs at most 10,000 parts (rounded up to whole MiB)."""
    size = max(preferred, MIN_PART_SIZE, math.ceil(total / MAX_PARTS))
    size = math.ceil(size / (1024 * 1024)) * 1024 * 1024
    return min(size, MAX_PART_SIZE)


def part_count(total: int, part_size: int) -> int:
    """How many parts a file of ``total`` bytes has (an empty file still has one, empty, part)."""
    return max(1, math.ceil(total / part_size))


def multipart_create(storage: S3Storage, key: str, *, content_type: str) -> str:
    """Start a multipart upload of ``key``; return its upload id."""
    params = storage.get_object_parameters(key)
    params.setdefault("ContentType", content_type or "application/octet-stream")
    with storage_errors("Starting the upload"):
        answer = _client(storage).create_multipart_upload(
            Bucket=storage.bucket_name, Key=_bucket_key(storage, key), **params
        )
    return answer["UploadId"]


def presign_part(storage: S3Storage, key: str, *, upload_id: str, part_number: int, expires: int) -> str:
    """A presigned URL that lets its holder PUT exactly one part of one upload (no network call)."""
    return _client(storage).generate_presigned_url(
        "upload_part",
        Params={
            "Bucket": storage.bucket_name,
            "Key": _bucket_key(storage, key),
            "UploadId": upload_id,
            "PartNumber": part_number,
        },
        ExpiresIn=max(1, min(int(expires), MAX_PRESIGN_SECONDS)),
    )


def multipart_parts(storage: S3Storage, key: str, *, upload_id: str) -> list[dict] | None:
    """The parts uploaded so far (PartNumber, ETag, Size), or None if the upload no longer exists."""
    parts: list[dict] = []
    with storage_errors("Listing uploaded parts"):
        try:
            pages = (
                _client(storage)
                .get_paginator("list_parts")
                .paginate(Bucket=storage.bucket_name, Key=_bucket_key(storage, key), UploadId=upload_id)
            )
            for page in pages:
                parts.extend(page.get("Parts", ()))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
    return sorted(parts, key=lambda p: p["PartNumber"])


def multipart_complete(storage: S3Storage, key: str, *, upload_id: str, parts: list[dict]) -> None:
    """Assemble the object from ``parts``; S3's refusal (e.g. a part too small) raises ClientError."""
    with storage_errors("Completing the upload"):
        try:
            _client(storage).complete_multipart_upload(
                Bucket=storage.bucket_name,
                Key=_bucket_key(storage, key),
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]
                },
            )
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            if 400 <= status < 500:
                raise MultipartRefused(_error_code(exc), str(exc)) from exc
            raise


class MultipartRefused(Exception):
    """S3 refused to assemble an upload because of what the client sent (not an outage)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def multipart_abort(storage: S3Storage, key: str, *, upload_id: str) -> None:
    """Abort an upload and free its parts; an upload that is already gone is fine."""
    with storage_errors("Aborting the upload"):
        try:
            _client(storage).abort_multipart_upload(
                Bucket=storage.bucket_name, Key=_bucket_key(storage, key), UploadId=upload_id
            )
        except ClientError as exc:
            if not _is_missing(exc):
                raise


def presigned_download_url(storage: S3Storage, key: str, *, filename: str, expires: int) -> str:
    """A short-lived GET URL for ``key`` that names the file for the browser or client saving it."""
    name = os.path.basename(filename) or "artifact"
    disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    return storage.url(key, parameters={"ResponseContentDisposition": disposition}, expire=expires)


@dataclass(frozen=True)
class PartTarget:
    """Where the client PUTs one part: its number, the byte range of the file it covers, and the URL."""

    part_number: int
    offset: int
    size: int
    url: str


def part_targets(storage: S3Storage, *, key: str, upload_id: str, size: int, part_size: int, expires: int):
    """Presigned PUT targets for every part of a file of ``size`` bytes (signing needs no network)."""
    count = part_count(size, part_size)
    return [
        PartTarget(
            part_number=n,
            offset=(n - 1) * part_size,
            size=min(part_size, size - (n - 1) * part_size),
            url=presign_part(storage, key, upload_id=upload_id, part_number=n, expires=expires),
        )
        for n in range(1, count + 1)
    ]


# -- streaming writes (S3) --------------------------------------------------------------------------

UPLOAD_BUFFER_SIZE = 8 * 1024 * 1024


def upload_stream(
    storage: S3Storage, key: str, stream, *, content_type: str = "application/octet-stream"
) -> tuple[int, str]:
    """Stream ``stream`` into the bucket under ``key`` and return (size, sha256).

    Every byte is read once, in order, and hashed as it is read; memory holds one part (8 MiB).
    S3Storage.save() hands the stream to s3transfer, which may read it more than once (checksums,
    retries), so a hash taken while it reads would not be the digest of the object. A failure aborts
    the multipart upload, so no partial object is ever created.
    """
    client, bucket, name = _client(storage), storage.bucket_name, _bucket_key(storage, key)
    params = storage.get_object_parameters(key)
    params.setdefault("ContentType", content_type or "application/octet-stream")
    digest = hashlib.sha256()

    def read_part() -> bytes:
        buf = bytearray()
        while len(buf) < UPLOAD_BUFFER_SIZE:
            data = stream.read(UPLOAD_BUFFER_SIZE - len(buf))
            if not data:
                break
            buf += data
        digest.update(buf)
        return bytes(buf)

    first = read_part()
    if len(first) < UPLOAD_BUFFER_SIZE:
        client.put_object(Bucket=bucket, Key=name, Body=first, **params)
        return len(first), digest.hexdigest()
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=name, **params)["UploadId"]
    try:
        parts, size, number, data = [], 0, 1, first
        while data:
            answer = client.upload_part(
                Bucket=bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=data
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            size += len(data)
            number += 1
            data = read_part()
        client.complete_multipart_upload(
            Bucket=bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        with contextlib.suppress(Exception):  # unreachable now: gc_artifacts aborts it later
            client.abort_multipart_upload(Bucket=bucket, Key=name, UploadId=upload_id)
        raise
    return size, digest.hexdigest()
