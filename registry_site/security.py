"""Security pieces that need more than a setting: the CSP with its one relaxation, and the login lockout."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpResponseBadRequest, JsonResponse

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
        if request.path.startswith(("/api/2.0/", "/api/3.0/")):
            # The MLflow protocol's paths answer in its error shape, which its client reads.
            return JsonResponse({"error_code": "INVALID_PARAMETER_VALUE", "message": bad}, status=400)
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"type": "client_error", "errors": [{"code": "invalid_url", "detail": bad, "attr": None}]},
                status=400,
            )
        return HttpResponseBadRequest(bad, content_type="text/plain; charset=utf-8")
