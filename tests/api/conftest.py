"""API test helpers: clients that authenticate with real bearer tokens, and a raw multipart builder."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from models_app.services.tokens import api_token_create

BOUNDARY = "registry-test-boundary-7d1f"


def token_client(user) -> APIClient:
    """An API client sending ``Authorization: Bearer`` with a fresh token of ``user`` (anonymous if None)."""
    client = APIClient()
    if user is not None:
        _, plaintext = api_token_create(user=user, name=f"test-{user.pk}-{user.api_tokens.count()}")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


@pytest.fixture
def api(db):
    """``api(user)``: a bearer-token client for ``user`` (None for an anonymous caller)."""
    return token_client


def _filename_param(name: str) -> str:
    if name.isascii() and name.isprintable() and '"' not in name:
        return f'filename="{name}"'
    # RFC 2231 form for names a quoted string cannot carry (control characters, NUL, non-ASCII).
    return f"filename*=UTF-8''{quote(name, safe='')}"


def multipart(files, metadata=None, *, metadata_raw: str | None = None, extra_parts=()) -> tuple[bytes, str]:
    """Build a multipart body by hand so file names reach the server exactly as written.

    ``files`` is a list of (path, bytes); returns (body, content_type).
    """
    chunks: list[bytes] = []
    if metadata is not None or metadata_raw is not None:
        text = metadata_raw if metadata_raw is not None else json.dumps(metadata)
        chunks.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n'
            f"Content-Type: application/json\r\n\r\n".encode()
            + text.encode()
            + b"\r\n"
        )
    for field, path, data in [("file", p, d) for p, d in files] + list(extra_parts):
        chunks.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; {_filename_param(path)}\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    chunks.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={BOUNDARY}"


def post_version(client, model_name: str, files, metadata=None, **kwargs):
    """POST a registration; extra kwargs go to the client (headers such as HTTP_IDEMPOTENCY_KEY)."""
    body, content_type = multipart(
        files,
        metadata,
        metadata_raw=kwargs.pop("metadata_raw", None),
        extra_parts=kwargs.pop("extra_parts", ()),
    )
    return client.post(
        f"/api/v1/models/{model_name}/versions/", data=body, content_type=content_type, **kwargs
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
