"""Artifact storage: path validation, server-generated keys, and streaming with SHA-256 hashing."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage, storages

from models_app.exceptions import InvalidArtifactPath, InvalidInput
from models_app.storage import objectstore

log = logging.getLogger(__name__)

CHUNK_SIZE = objectstore.CHUNK_SIZE
MAX_PATH_LENGTH = 1024
_SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def artifact_storage() -> Storage:
    """The configured artifact storage (STORAGES["default"])."""
    return storages["default"]


@dataclass(frozen=True)
class IncomingFile:
    """A file offered for a new version: its label inside the version and a readable byte stream."""

    path: str
    stream: IO[bytes]
    content_type: str = "application/octet-stream"
    expected_sha256: str | None = None


@dataclass(frozen=True)
class StoredFile:
    """What streaming one file into storage produced."""

    path: str
    storage_key: str
    size: int
    sha256: str
    content_type: str


def validate_artifact_path(path: object, *, field: str = "file") -> str:
    """Return ``path`` if it is a safe relative label, else raise InvalidArtifactPath naming ``field``.

    The label is never joined onto a directory (keys are generated), but a registry that accepts
    ``../x`` as a file name hands that name to every client that later downloads it.
    """
    if not isinstance(path, str) or not path:
        raise InvalidArtifactPath("File path must be a non-empty string.", field=field)
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidArtifactPath(f"File path is longer than {MAX_PATH_LENGTH} characters.", field=field)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in path):
        raise InvalidArtifactPath(f"File path {path!r} contains control or invalid characters.", field=field)
    if "\\" in path:
        raise InvalidArtifactPath(f"File path {path!r} contains a backslash; use '/'.", field=field)
    if path.startswith("/") or _DRIVE_RE.match(path):
        raise InvalidArtifactPath(
            f"File path {path!r} is absolute; give a path relative to the version.", field=field
        )
    segments = path.split("/")
    if any(seg in ("", ".", "..") for seg in segments):
        raise InvalidArtifactPath(f"File path {path!r} has an empty, '.' or '..' segment.", field=field)
    return path


def validate_sha256(value: object, *, field: str) -> str:
    """Return a lowercase hex SHA-256 or raise naming ``field``."""
    if not isinstance(value, str) or not _SHA256_RE.match(value.lower()):
        raise InvalidInput("Must be a SHA-256 digest of 64 hexadecimal characters.", field=field)
    return value.lower()


def new_storage_key(registered_model_id: int) -> str:
    """A fresh storage key; nothing of the client's input goes into it."""
    return f"artifacts/{registered_model_id}/{uuid.uuid4().hex}"


def new_draft_storage_key() -> str:
    """A fresh key for a file of a tracked run or logged model (a draft: it belongs to no model yet)."""
    return f"artifacts/drafts/{uuid.uuid4().hex}"


class HashingReader(File):
    """Wraps a stream so that every byte read is counted and hashed on its way to storage."""

    def __init__(self, stream: IO[bytes]):
        super().__init__(stream)
        self._hash = hashlib.sha256()
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        if data:
            self._hash.update(data)
            self.bytes_read += len(data)
        return data

    def chunks(self, chunk_size: int | None = None):
        while True:
            data = self.read(chunk_size or CHUNK_SIZE)
            if not data:
                return
            yield data

    @property
    def size(self) -> int:  # storages ask for it; an unknown size must not make them read it all
        return getattr(self.file, "size", None) or 0

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def store_stream(*, storage: Storage, key: str, stream: IO[bytes]) -> tuple[int, str]:
    """Stream ``stream`` into ``storage`` under ``key``; return (size, sha256). Never reads it whole."""
    if hasattr(stream, "seek"):
        with contextlib.suppress(OSError, ValueError):
            stream.seek(0)
    if objectstore.is_s3(storage):
        return objectstore.upload_stream(storage, key, stream)
    received = getattr(stream, "sha256", "")
    if received and hasattr(stream, "temporary_file_path"):
        # A request's file part, hashed while it arrived into its temporary file (api.parsers): the file
        # storage moves that file into place (a rename on one filesystem) instead of copying and hashing
        # the bytes a second time.
        saved = storage.save(key, stream)
        if saved != key:
            storage.delete(saved)
            raise OSError(f"storage renamed {key!r} to {saved!r}")
        return stream.size, received
    reader = HashingReader(stream)
    saved = storage.save(key, reader)
    if saved != key:
        # The key is fresh; a renamed save means something else wrote there. Keep nothing.
        storage.delete(saved)
        raise OSError(f"storage renamed {key!r} to {saved!r}")
    return reader.bytes_read, reader.hexdigest()


def delete_quietly(storage: Storage, keys) -> None:
    """Best-effort removal of stored objects after a failed registration."""
    for key in keys:
        try:
            storage.delete(key)
        except Exception:  # cleanup must try every key; gc_artifacts removes what is left
            log.warning("could not remove stored object %s", key, exc_info=True)


def iter_file(
    storage: Storage, key: str, *, start: int = 0, length: int | None = None, chunk_size: int = CHUNK_SIZE
):
    """Yield the stored bytes of ``key`` (optionally a byte range) in chunks, opening it at the first."""
    yield from objectstore.open_stream(storage, key, start=start, length=length, chunk_size=chunk_size)
