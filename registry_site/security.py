"""Security pieces that need more than a setting: the CSP with its one relaxation, and the login lockout."""

from __future__ import annotations

import contextlib
import logging
import threading

from axes.backends import AxesStandaloneBackend
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpResponse, UnreadablePostError

from models_app.api.fallback_errors import api_error, is_api_path
from models_app.ops import metrics

log = logging.getLogger("models_app.request")

# Swagger UI and ReDoc (served offline from drf-spectacular-sidecar) initialise from inline scripts,
# style themselves inline, draw icons from data: URIs, and ReDoc runs a blob: worker. Only these
# pages get that; every other page keeps the strict policy from settings.
DOCS_PATH_PREFIXES = ("/api/v1/docs/", "/api/v1/redoc/")
DOCS_POLICY_UPDATE = {
    "script-src": ["'unsafe-inline'"],
    "style-src": ["'unsafe-inline'"],
    "worker-src": ["'self'", "blob:"],
}


class RegistryCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, relaxing the policy for the API documentation pages only."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.update is None and request.path_info.startswith(DOCS_PATH_PREFIXES):
            parts.update = DOCS_POLICY_UPDATE
        return parts


class LoginAttemptBackend(AxesStandaloneBackend):
    """django-axes' lockout check for logins that come with an HTTP request.

    A call without a request (the test client's ``login()``, a management command) is no brute-force
    surface and has no address to lock; axes would raise for it, so it is passed on to the next backend.
    Neither is a call without a password (the identity provider's callback: its code cannot be guessed,
    and the provider guards its own login), which would otherwise be counted under an empty username.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or password is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


class RejectControlCharactersMiddleware:
    """400 for a URL path with control characters or a query string with NUL, before any view runs.

    No route, name or file path may contain them, and PostgreSQL cannot even compare text holding NUL
    (it raises, which would be a 500). Refusing at the door keeps every lookup simple.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        bad = None
        if _has_control(request.path):
            bad = "The URL path contains control characters."
        elif any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()):
            bad = "The query string contains a NUL character."
        if bad is None:
            return self.get_response(request)
        return _refusal(request, 400, "invalid_url", bad)


def _refusal(request, status: int, code: str, message: str) -> HttpResponse:
    """A refusal at the door, in the error shape of the path (API, MLflow protocol, or plain text)."""
    if is_api_path(request.path):
        return api_error(request.path, status, code, message)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


# Header limits the application enforces itself, so that the answer has the API's error shape; gunicorn's
# own (``limit_request_field_size`` and friends in gunicorn_conf) are set above these and only catch
# what is far beyond them.
MAX_HEADER_BYTES = 8190
MAX_HEADERS_TOTAL_BYTES = 32 * 1024
# The one path where a chunked body is read (de-chunked) rather than refused: the MLflow client sends
# empty artifact files that way.
CHUNKED_BODY_PATHS = ("/api/2.0/mlflow-artifacts/artifacts/",)


class RequestFramingMiddleware:
    """431 for oversized request headers, and 411 for a chunked request body, before anything reads it.

    Django reads a body without Content-Length as empty: a chunked PATCH would answer 200 and change
    nothing. Bodies must declare their length; the MLflow artifact upload path (``CHUNKED_BODY_PATHS``)
    reads chunked bodies itself, within the upload limit. A 411 closes the connection, since the unread
    body would otherwise be taken for the next request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        headers = [(k, v) for k, v in request.META.items() if k.startswith("HTTP_") and isinstance(v, str)]
        sizes = [len(k) + len(v) for k, v in headers]
        if sizes and (max(sizes) > MAX_HEADER_BYTES or sum(sizes) > MAX_HEADERS_TOTAL_BYTES):
            return _refusal(
                request,
                431,
                "headers_too_large",
                f"Request headers are too large (at most {MAX_HEADER_BYTES} bytes each, "
                f"{MAX_HEADERS_TOTAL_BYTES} in all).",
            )
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not request.path.startswith(CHUNKED_BODY_PATHS):
            response = _refusal(
                request,
                411,
                "length_required",
                "Send the body with a Content-Length header; chunked request bodies are not accepted here.",
            )
            if "gunicorn.socket" in request.META:
                # gunicorn honours it; wsgiref (the development server) forbids hop-by-hop headers
                # from the application and closes by itself an answer without Content-Length.
                response["Connection"] = "close"
            return response
        return self.get_response(request)


def _has_body(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return length > 0 or "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


class BodySlotsMiddleware:
    """Stalled uploads cannot take every thread: body slots per process, and a read timeout on bodies.

    * A request with a body holds one of ``REGISTRY_BODY_SLOTS`` slots of this process while its view
      runs; with none free it is answered 429 (``Retry-After``) at once. The threads beyond the slots
      (``REGISTRY_WEB_THREADS`` minus the slots) only ever serve requests without a body: reads, probes.
    * Under gunicorn, the connection's socket gets ``REGISTRY_BODY_READ_TIMEOUT`` seconds per read while
      the body is received: a client that stops sending is a client abort, and its slot and thread are
      free again. The timeout is lifted before the answer is sent, so slow downloads are not cut.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.slots = threading.BoundedSemaphore(settings.REGISTRY_BODY_SLOTS)

    def __call__(self, request):
        if not _has_body(request):
            return self.get_response(request)
        if not self.slots.acquire(blocking=False):
            response = _refusal(
                request,
                429,
                "too_many_uploads",
                "This server is receiving as many request bodies as it takes at once; retry shortly.",
            )
            response["Retry-After"] = "5"
            return response
        sock = request.META.get("gunicorn.socket")
        try:
            if sock is not None and settings.REGISTRY_BODY_READ_TIMEOUT:
                sock.settimeout(settings.REGISTRY_BODY_READ_TIMEOUT)
            return self.get_response(request)
        finally:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.settimeout(None)
            self.slots.release()

    def process_exception(self, request, exception):
        """A form view (UI, admin) whose body could not be read: the client went away or stalled past
        the read timeout. A client abort, as for the API's uploads, not a server error."""
        if not isinstance(exception, UnreadablePostError):
            return None
        metrics.record_client_abort("form_body")
        log.warning(
            "client aborted %s %s mid-body",
            request.method,
            request.path,
            extra={"event": "client_abort", "where": "form_body", "path": request.path},
        )
        return _refusal(
            request, 400, "client_aborted", "The request body could not be read; nothing was stored."
        )
