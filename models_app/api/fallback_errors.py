"""Errors raised before any API view runs (no route matched, a refused Host header or body, an unhandled
crash) in the API's error shape.

Django answers these with HTML pages; a pipeline calling /api/ should get the same JSON shape as every
other API error (and the MLflow client, under /api/2.0/ and /api/3.0/, its own ``{"error_code",
"message"}``). Other paths keep Django's pages.
"""

from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.views import defaults

API_PREFIX = "/api/"
MLFLOW_PREFIXES = ("/api/2.0/", "/api/3.0/")
# The MLflow client reads the code from the body; these are the ones it knows for each status.
_MLFLOW_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    411: "INVALID_PARAMETER_VALUE",
    413: "INVALID_PARAMETER_VALUE",
    431: "INVALID_PARAMETER_VALUE",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def api_error(path: str, status: int, code: str, detail: str, kind: str = "client_error") -> JsonResponse:
    """The one error shape for ``path`` (the API's, or the MLflow protocol's under its prefixes)."""
    if path.startswith(MLFLOW_PREFIXES):
        error_code = "INTERNAL_ERROR" if status >= 500 else _MLFLOW_CODES.get(status, "BAD_REQUEST")
        return JsonResponse({"error_code": error_code, "message": detail}, status=status)
    return JsonResponse(
        {"type": kind, "errors": [{"code": code, "detail": detail, "attr": None}]}, status=status
    )


def not_found(request, exception):
    """404 for a path no route matches (e.g. a non-numeric id where a number belongs)."""
    if is_api_path(request.path):
        return api_error(request.path, 404, "not_found", "No API endpoint matches this path.")
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    """400 for what Django refuses before a view runs: a Host header not in ALLOWED_HOSTS, a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE (413 here: that is what it is), too many fields, a malformed request."""
    if not is_api_path(request.path):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return api_error(
            request.path, 413, "too_large", "The request body is larger than the configured limit."
        )
    if isinstance(exception, DisallowedHost):
        return api_error(
            request.path, 400, "invalid_host", "The Host header names a host this registry does not serve."
        )
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return api_error(request.path, 400, "too_many_parts", "The request has too many fields or files.")
    return api_error(request.path, 400, "bad_request", "The request is malformed.")


def permission_denied(request, exception):
    if is_api_path(request.path):
        return api_error(request.path, 403, "permission_denied", "You are not allowed to do this.")
    return defaults.permission_denied(request, exception)


def server_error(request):
    if is_api_path(request.path):
        return api_error(request.path, 500, "error", "Server Error (500)", "server_error")
    return defaults.server_error(request)
