"""The artifact proxy (``/api/2.0/mlflow-artifacts/artifacts``) and ``/api/3.0/mlflow/server-info``.

Uploads (PUT) stream the raw body into storage under a server-generated key, hashed on the way; only a
run's or a logged model's own files are writable, by whoever created it, and a version's never are.
Downloads stream the stored bytes (or, with S3 and REGISTRY_S3_REDIRECT_DOWNLOADS, redirect to a
presigned URL; the client drops its Authorization header for the other host). Listing a file or a path
that holds nothing answers ``{}``: the client takes an empty listing to mean "fetch it as a file".
"""

from __future__ import annotations

import posixpath

from django.conf import settings
from django.http import FileResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header

from models_app import rules, services
from models_app.exceptions import (
    ClientAborted,
    FileNotFound,
    InvalidInput,
    NotAllowed,
    StorageUnavailable,
    TooLarge,
)
from models_app.mlflow import paths
from models_app.mlflow.http import Params
from models_app.ops import metrics
from models_app.storage import objectstore
from models_app.storage.artifacts import CHUNK_SIZE, artifact_storage


def _location(path: str) -> paths.Location:
    location = paths.resolve(path)
    if location is None:
        raise FileNotFound(f"No such artifact: {path!r}.", field="path")
    return location


def list_artifacts(request, p: Params) -> dict:
    location = paths.resolve(p.str("path"))
    if location is None:
        return {}
    if location.version is not None:
        rules.refuse(rules.version_usable(location.version, to="be downloaded", field="path"))
    entries = location.listing()
    return {"files": entries} if entries else {}


def download(request, p: Params, path: str):
    location = _location(path)
    if location.version is not None:
        rules.refuse(rules.version_usable(location.version, to="be downloaded", field="path"))
    entry = location.file()
    if entry is None:
        if location.below():
            raise InvalidInput(f"Artifact path {path!r} refers to a directory, not a file.", field="path")
        raise FileNotFound(f"No such artifact: {path!r}.", field="path")
    headers = {
        "ETag": f'"{entry.sha256}"',
        "X-Checksum-Sha256": entry.sha256,
        "Content-Disposition": content_disposition_header(True, posixpath.basename(entry.path)),
        "Cache-Control": "private, no-cache",
    }
    storage = artifact_storage()
    if objectstore.is_s3(storage):
        if settings.REGISTRY_S3_REDIRECT_DOWNLOADS:
            url = objectstore.presigned_download_url(
                storage, entry.storage_key, filename=entry.path, expires=storage.querystring_expire
            )
            return _with(HttpResponseRedirect(url), headers)
        try:
            chunks = objectstore.open_stream(storage, entry.storage_key)
        except FileNotFoundError as exc:
            raise StorageUnavailable(f"The stored bytes of {path!r} are missing.", field="path") from exc
        response = StreamingHttpResponse(metrics.count_bytes_out(chunks))
    else:
        try:
            fh = storage.open(entry.storage_key, "rb")
        except Exception as exc:
            raise StorageUnavailable(
                f"The stored bytes of {path!r} cannot be read now ({exc.__class__.__name__}).", field="path"
            ) from exc
        response = FileResponse(fh)
        response.block_size = CHUNK_SIZE
        metrics.record_bytes_out(entry.size)
    headers["Content-Length"] = str(entry.size)
    response["Content-Type"] = "application/octet-stream"
    return _with(response, headers)


def _with(response, headers: dict):
    for key, value in headers.items():
        response[key] = value
    return response


class _Limited:
    """The request body, refused past the registry's upload limit instead of stored."""

    def __init__(self, stream, limit: int, declared: int = 0):
        self._stream, self._limit, self._read, self._declared = stream, limit, 0, declared

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(size if size is not None and size >= 0 else CHUNK_SIZE)
        except OSError as exc:  # a reset, a read timeout (Django: UnreadablePostError)
            raise ClientAborted() from exc
        self._read += len(data)
        if not data and self._read < self._declared:
            raise ClientAborted()
        if self._read > self._limit:
            raise TooLarge(f"The file is larger than the upload limit of {self._limit} bytes.", field="body")
        return data


class _Dechunked:
    """A chunked request body (RFC 9112 §7.1) read from the raw connection, for servers that pass it on
    undecoded (Django's development server); gunicorn de-chunks it itself."""

    def __init__(self, raw):
        self._raw, self._left, self._done = raw, 0, False

    def _line(self) -> bytes:
        line = self._raw.readline(1024)
        if not line.endswith(b"\n"):
            raise ClientAborted()
        return line.strip()

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        if self._left == 0:
            head = self._line().split(b";", 1)[0]
            if not is_ascii_int_bytes(head, hexadecimal=True):
                raise InvalidInput("The chunked body is malformed.", field="body")
            self._left = int(head, 16)
            if self._left == 0:
                while self._line():  # trailers, up to the blank line
                    pass
                self._done = True
                return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._raw.read(want)
        if not data:
            raise ClientAborted()
        self._left -= len(data)
        if self._left == 0:
            self._line()  # the CRLF after the chunk's data
        return data


def is_ascii_int_bytes(text: bytes, *, hexadecimal: bool = False) -> bool:
    digits = b"0123456789abcdefABCDEF" if hexadecimal else b"0123456789"
    return 0 < len(text) <= 16 and all(byte in digits for byte in text)


def _body(request):
    """The upload's byte stream. A chunked body without Content-Length is read from the server's
    de-chunked input where the server provides one (gunicorn), or de-chunked here from the raw
    connection (the development server); Django alone would read such a body as empty."""
    limit = settings.REGISTRY_MAX_UPLOAD_BYTES
    length = request.META.get("CONTENT_LENGTH")
    if length:
        try:
            if int(length) > limit:
                raise TooLarge(f"The file is larger than the upload limit of {limit} bytes.", field="body")
        except ValueError:
            raise InvalidInput("Content-Length must be a number.", field="Content-Length") from None
        return _Limited(request, limit, int(length))
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        if request.META.get("wsgi.input_terminated"):
            return _Limited(request.META["wsgi.input"], limit)
        # Django's development server hands the application a zero-length LimitedStream over the
        # connection (no Content-Length); the connection itself is the object its read method is bound to.
        raw = getattr(getattr(request.META.get("wsgi.input"), "_read", None), "__self__", None)
        if raw is None or not hasattr(raw, "readline"):
            raise InvalidInput("Send the file with a Content-Length header.", field="Content-Length")
        return _Limited(_Dechunked(raw), limit)
    return _Limited(request, limit)


def upload(request, p: Params, path: str):
    location = _location(path)
    if location.version is not None:
        raise NotAllowed(
            "A registered version's files never change; log a new model and register it instead."
        )
    if not location.sub:
        raise InvalidInput(f"Artifact path {path!r} names a folder, not a file.", field="path")
    services.draft_artifact_store(
        actor=request.user,
        path=location.sub,
        stream=_body(request),
        content_type=request.META.get("CONTENT_TYPE", ""),
        run=location.run,
        logged_model=location.logged_model,
    )
    return {}


def server_info(request, p: Params) -> dict:
    """What the client asks before downloading: no multipart transfers here (whole files, streamed)."""
    return {
        "store_type": "ModelRegistry",
        "workspaces_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
    }
