"""Errors raised before any API view runs (no route matched, an unhandled crash) in the API's error shape.

Django answers these with HTML pages; a pipeline calling /api/ should get the same JSON shape as every
other API error. Other paths keep Django's pages.
"""

from django.http import JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def _error(status: int, code: str, detail: str, kind: str) -> JsonResponse:
    return JsonResponse(
        {"type": kind, "errors": [{"code": code, "detail": detail, "attr": None}]}, status=status
    )


def not_found(request, exception):
    """404 for a path no route matches (e.g. a non-numeric id where a number belongs)."""
    if request.path.startswith(API_PREFIX):
        return _error(404, "not_found", "No API endpoint matches this path.", "client_error")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PREFIX):
        return _error(500, "error", "Server Error (500)", "server_error")
    return defaults.server_error(request)
