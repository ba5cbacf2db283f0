"""File downloads: streamed with their SHA-256 (ETag, Repr-Digest), ranges and conditional GETs."""

from __future__ import annotations

import base64
import posixpath

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from models_app import selectors
from models_app.api.exceptions import RangeNotSatisfiable
from models_app.api.schema import error_responses
from models_app.api.views.lookup import NAME_PARAM, REF_PARAM, ModelScopedMixin, version_or_404
from models_app.exceptions import (
    StorageUnavailable,
)
from models_app.ops import metrics
from models_app.storage import objectstore
from models_app.storage.artifacts import CHUNK_SIZE, artifact_storage


class _FirstRenderer(BaseContentNegotiation):
    """Downloads answer in bytes whatever the Accept header says; errors still come as JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def repr_digest(sha256_hex: str) -> str:
    """``Repr-Digest`` value (RFC 9530) of a hex SHA-256."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode('ascii')}:"


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [c.strip() for c in header.split(",")]
    # If-None-Match uses weak comparison: W/"x" matches "x".
    return any(c == "*" or c.removeprefix("W/") == etag for c in candidates)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single ``bytes=`` range; None to serve the whole file.

    Raises RangeNotSatisfiable (416) for a malformed or unsatisfiable byte range.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None  # other units are ignored, as RFC 9110 allows
    if "," in spec:
        return None  # several ranges: answering with the whole file is allowed and simpler
    first, dash, last = spec.strip().partition("-")
    try:
        if not dash or (not first and not last):
            raise ValueError
        if not first:
            suffix = int(last)
            if suffix <= 0:
                raise ValueError
            start, end = max(size - suffix, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
            if start > end:
                raise ValueError
            end = min(end, size - 1)
        if start < 0 or start >= size:
            raise ValueError
    except ValueError:
        raise RangeNotSatisfiable(header, size) from None
    return start, end


@extend_schema(
    summary="Download a file of a version",
    description=(
        "Streams the bytes with `Content-Length`, `ETag` (the quoted SHA-256), `Repr-Digest: "
        "sha-256=:<base64>:` and `Accept-Ranges: bytes`. A single `Range: bytes=...` answers 206 with "
        "`Content-Range`; `If-None-Match` with the ETag answers 304. Only ready versions can be downloaded; "
        "a version whose files were purged answers 410 `version_purged`. "
        "With S3 storage and REGISTRY_S3_REDIRECT_DOWNLOADS on, a GET answers 302 to a short-lived presigned "
        "bucket URL instead, carrying the same `ETag`, `Repr-Digest` and `X-Checksum-Sha256` so the client "
        "still verifies what it receives (send the `Range` header again to the bucket; no Authorization)."
    ),
    tags=["versions"],
    parameters=[
        NAME_PARAM,
        REF_PARAM,
        OpenApiParameter("path", OpenApiTypes.STR, OpenApiParameter.PATH, description="The file's path."),
        OpenApiParameter(
            "Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="`bytes=start-end`."
        ),
        OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER),
        OpenApiParameter("If-Range", OpenApiTypes.STR, OpenApiParameter.HEADER),
    ],
    responses={
        (200, "application/octet-stream"): OpenApiResponse(
            OpenApiTypes.BINARY, description="The whole file."
        ),
        (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The range."),
        302: OpenApiResponse(description="Redirect to a presigned bucket URL (S3, when enabled)."),
        304: OpenApiResponse(description="Not modified: the client's copy has this ETag."),
        **error_responses(409, 410, 416, 503),
    },
)
class ArtifactFileDownloadView(ModelScopedMixin, APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FirstRenderer

    def get(self, request, name, ref, path):
        version = version_or_404(self.get_registered_model(), ref)
        record = selectors.version_file_get(version=version, path=path)
        etag = f'"{record.sha256}"'
        headers = {
            "ETag": etag,
            "Repr-Digest": repr_digest(record.sha256),
            "Accept-Ranges": "bytes",
            "Content-Disposition": content_disposition_header(True, posixpath.basename(record.path)),
            "Cache-Control": "private, no-cache",
            "X-Checksum-Sha256": record.sha256,
        }
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and _etag_matches(if_none_match, etag):
            return self._plain(HttpResponse(status=status.HTTP_304_NOT_MODIFIED), headers)

        span = None
        range_header = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        # An empty file has no satisfiable range; it is simply served whole.
        if range_header and record.size and (not if_range or if_range.strip() == etag):
            span = parse_range(range_header, record.size)

        storage = artifact_storage()
        if request.method == "GET" and settings.REGISTRY_S3_REDIRECT_DOWNLOADS and objectstore.is_s3(storage):
            # The bytes go from the bucket to the client; the digest headers travel with the redirect.
            url = objectstore.presigned_download_url(
                storage, record.storage_key, filename=record.path, expires=storage.querystring_expire
            )
            headers.pop("Accept-Ranges")
            return self._plain(HttpResponseRedirect(url), headers)
        if request.method == "HEAD":
            response = HttpResponse(status=status.HTTP_206_PARTIAL_CONTENT if span else status.HTTP_200_OK)
            length = (span[1] - span[0] + 1) if span else record.size
        else:
            if objectstore.is_s3(storage):
                # Streams the GET body; S3File would copy the whole object locally before the first byte.
                length = (span[1] - span[0] + 1) if span else record.size
                try:
                    chunks = objectstore.open_stream(
                        storage, record.storage_key, start=span[0] if span else 0, length=length
                    )
                except FileNotFoundError as exc:
                    raise StorageUnavailable(
                        f"The stored bytes of {record.path!r} are missing; run verify_artifacts.",
                        field="path",
                    ) from exc
                response = StreamingHttpResponse(
                    metrics.count_bytes_out(chunks),
                    status=status.HTTP_206_PARTIAL_CONTENT if span else status.HTTP_200_OK,
                )
                if span:
                    headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{record.size}"
                headers["Content-Length"] = str(length)
                response["Content-Type"] = "application/octet-stream"
                return self._plain(response, headers)
            try:
                fh = storage.open(record.storage_key, "rb")
            except Exception as exc:
                raise StorageUnavailable(
                    f"The stored bytes of {record.path!r} cannot be read now ({exc.__class__.__name__}).",
                    field="path",
                ) from exc
            if span:
                length = span[1] - span[0] + 1
                response = StreamingHttpResponse(
                    objectstore.file_chunks(fh, start=span[0], length=length),
                    status=status.HTTP_206_PARTIAL_CONTENT,
                )
            else:
                length = record.size
                # FileResponse lets a WSGI server hand the file to sendfile() where it can.
                response = FileResponse(fh, content_type="application/octet-stream")
                response.block_size = CHUNK_SIZE
            # Counted as the body is handed to the server: a sendfile() transfer cannot be counted per chunk.
            metrics.record_bytes_out(length)
        if span:
            headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{record.size}"
        headers["Content-Length"] = str(length)
        response["Content-Type"] = "application/octet-stream"
        return self._plain(response, headers)

    def _plain(self, response, headers):
        for key, value in headers.items():
            response[key] = value
        return response

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, RangeNotSatisfiable):
            response["Content-Range"] = f"bytes */{exc.size}"
        return response
