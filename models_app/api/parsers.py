"""Multipart parsing for version registration.

Django's multipart parser reduces every file name to its last segment (``weights/model.bin``
becomes ``model.bin``) and unescapes HTML entities. A version's files are named by their relative
path, so this parser keeps the client's name exactly as sent; ``validate_artifact_path`` checks it
once (in the service) and it only ever becomes a label, never a storage location.

Each file part is streamed into a temporary file while it is hashed and counted, and the whole body
is held to ``REGISTRY_MAX_UPLOAD_BYTES`` both by its Content-Length and while it streams.
"""

from __future__ import annotations

import hashlib
import logging
import re

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles

from models_app.exceptions import ClientAborted, InvalidInput, TooLarge
from models_app.inputs import NotJSON, loads_strict
from models_app.ops import metrics

UPLOAD_CHUNK_SIZE = 1024 * 1024

log = logging.getLogger("models_app.api.uploads")


def max_upload_bytes() -> int:
    return int(settings.REGISTRY_MAX_UPLOAD_BYTES)


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"The request body is larger than the limit of {limit} bytes; nothing was stored.", field="file"
    )


class StrictJSONParser(BaseParser):
    """``application/json`` read by ``loads_strict``: a body that is not JSON is a parse error; JSON
    holding what a JSON column cannot store (NaN, NUL, lone surrogates, deep nesting) is a 400 naming
    the path of the value."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF streams the body past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check: held to it here.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            raw = stream.read(limit + 1 if limit is not None else -1) if stream is not None else b""
        except OSError as exc:  # a reset, a read timeout (Django: UnreadablePostError)
            client_aborted(parser_context["request"], "api_body")
            raise ClientAborted() from exc
        if limit is not None and len(raw) > limit:
            raise TooLarge(f"A JSON body may be at most {limit} bytes; nothing was changed.", field="body")
        try:
            return loads_strict(raw, field="")
        except InvalidInput as exc:
            if isinstance(exc, NotJSON) or not exc.field:
                raise ParseError(f"JSON parse error - {exc.message}") from None
            raise


class HashedUploadedFile(TemporaryUploadedFile):
    """A received file part with the SHA-256 of the bytes as they arrived.

    Django would reduce ``name`` to a basename (and refuses some names outright), so the temporary
    file gets a fixed name and ``relative_path`` keeps the name the client sent.
    """

    def __init__(self, relative_path: str, content_type: str, charset: str | None):
        super().__init__("part", content_type, 0, charset)
        self.relative_path = relative_path
        self.sha256 = ""


class HashingUploadHandler(FileUploadHandler):
    """Streams each file part to a temporary file, hashing and counting on the way."""

    chunk_size = UPLOAD_CHUNK_SIZE

    def __init__(self, request=None, limit: int | None = None):
        super().__init__(request)
        self.limit = limit if limit is not None else max_upload_bytes()
        self.received = 0
        self.file: HashedUploadedFile | None = None
        self._hash = None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file = HashedUploadedFile(self.file_name, self.content_type, self.charset)
        self._hash = hashlib.sha256()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.file.close()  # removes the partial temporary file now, not at garbage collection
            raise too_large(self.limit)
        self.file.write(raw_data)
        self._hash.update(raw_data)
        return None

    def file_complete(self, file_size):
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self._hash.hexdigest()
        return self.file

    def upload_interrupted(self):
        if self.file is not None:
            self.file.close()


class _PathKeepingParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name):
        # Kept verbatim (no unescaping, no basename): the service validates it as a relative path.
        # Django decodes a percent-encoded (RFC 2231) name with errors="replace": a replacement
        # character means bytes that were not UTF-8, and storing a guess would rename the file.
        if "\ufffd" in file_name:
            raise InvalidInput(
                f"The file name {file_name!r} is not valid UTF-8; nothing was stored.", field="file"
            )
        return file_name

    IE_sanitize = sanitize_file_name


_PART_NAME = re.compile(rb'\bname="([^"]{0,200})"')
MAX_PART_HEADER_BYTES = 64 * 1024


class _PartHeaderCheck:
    """Finds every part's header block as the body streams past and refuses one that is not UTF-8.

    Django's parser decodes each part header line as UTF-8 and silently skips a line that fails, so a
    file part whose ``filename`` holds other bytes would vanish from the upload without a word.
    """

    def __init__(self, boundary: bytes):
        self._delimiter = b"--" + boundary
        self._buffer = b"\r\n"  # the first delimiter has no line break before it
        self._in_headers = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if not self._in_headers:
                at = self._buffer.find(b"\r\n" + self._delimiter)
                if at < 0:
                    # Keep just enough to recognise a delimiter split across two reads.
                    self._buffer = self._buffer[-(len(self._delimiter) + 2) :]
                    return
                self._buffer = self._buffer[at + len(self._delimiter) + 2 :]
                self._in_headers = True
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_PART_HEADER_BYTES:
                    raise InvalidInput("A part's headers are too long.", field="file")
                return
            self._check(self._buffer[:end])
            self._buffer = self._buffer[end + 2 :]
            self._in_headers = False

    @staticmethod
    def _check(headers: bytes) -> None:
        try:
            headers.decode("utf-8")
        except UnicodeDecodeError:
            match = _PART_NAME.search(headers)
            name = match.group(1).decode("utf-8", errors="replace") if match else "file"
            raise InvalidInput(
                "The part's headers (its filename) are not valid UTF-8; send the name UTF-8 encoded, "
                "e.g. as filename*=UTF-8''<percent-encoded name>. Nothing was stored.",
                field=name or "file",
            ) from None


class _CompleteBodyStream:
    """The request body, read to its declared length: a connection reset, or an end before that length,
    is the client abandoning the upload (``ClientAborted``), never a truncated body taken as complete.
    Every part header is checked on the way (``_PartHeaderCheck``)."""

    def __init__(self, stream, declared: int, boundary: bytes | None):
        self._stream, self._declared, self._read = stream, declared, 0
        self._headers = _PartHeaderCheck(boundary) if boundary else None

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(size)
        except OSError as exc:  # a reset, a read timeout (Django: UnreadablePostError)
            raise ClientAborted() from exc
        self._read += len(data)
        if not data and size != 0 and self._read < self._declared:
            raise ClientAborted()
        if self._headers is not None and data:
            self._headers.feed(data)
        return data


def client_aborted(request, where: str) -> None:
    """Log and count a client abort: a warning without a traceback, since the server did nothing wrong."""
    metrics.record_client_abort(where)
    log.warning(
        "client aborted %s %s mid-body",
        request.method,
        request.path,
        extra={"event": "client_abort", "where": where, "path": request.path},
    )


class ArtifactMultiPartParser(BaseParser):
    """``multipart/form-data`` whose file names are relative paths, streamed and hashed."""

    media_type = "multipart/form-data"

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        limit = max_upload_bytes()
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise too_large(limit)
        handler = HashingUploadHandler(request, limit=limit)
        try:
            parser = _PathKeepingParser(meta, stream, [handler], encoding)
            # The parser's own boundary (it validated the Content-Type) for the header check.
            parser._input_data = _CompleteBodyStream(stream, declared, parser._boundary)
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        except ClientAborted:
            handler.upload_interrupted()  # the partial temporary file goes now
            client_aborted(request, "api_upload")
            raise
        except InvalidInput:
            handler.upload_interrupted()
            raise
        return DataAndFiles(data, files)
