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

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles

from models_app.exceptions import TooLarge

UPLOAD_CHUNK_SIZE = 1024 * 1024


def max_upload_bytes() -> int:
    return int(settings.REGISTRY_MAX_UPLOAD_BYTES)


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"The request body is larger than the limit of {limit} bytes; nothing was stored.", field="file"
    )


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
        return file_name

    IE_sanitize = sanitize_file_name


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
            data, files = _PathKeepingParser(meta, stream, [handler], encoding).parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        return DataAndFiles(data, files)
