"""Request id and the one-line-per-request log."""

from __future__ import annotations

import logging
import re
import time
import uuid

from models_app.ops.context import reset_request_id, set_request_id

log = logging.getLogger("models_app.request")

REQUEST_ID_HEADER = "X-Request-ID"
# Ids from a proxy or a client are kept only when they are short, printable tokens: they end up in
# ledger rows and log lines, so nothing that could forge a log field or bloat a row gets through.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,63}\Z")


def clean_request_id(value: str | None) -> str:
    """The caller's request id when it is a sane token, otherwise a fresh uuid4 hex."""
    if value and _SANE_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


def _username(request) -> str | None:
    user = getattr(request, "user", None)
    if user is None:
        return None
    try:
        return user.get_username() if user.is_authenticated else None
    except Exception:  # resolving a session user needs the database, which may be the thing that is down
        return None


class RequestLogMiddleware:
    """Assigns the request id (``X-Request-ID`` in, echoed out, written into ledger rows through the
    context variable) and logs one line per request with method, path, status, duration and user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = set_request_id(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            # Streaming bodies are still being sent: the duration is the time to the first byte.
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                extra={
                    "event": "request",
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "user": _username(request),
                    "request_id": request_id,
                },
            )
            return response
        finally:
            reset_request_id(token)
