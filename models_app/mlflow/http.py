"""How every MLflow endpoint is served: bearer-token authentication, the per-token budget, parameters
(query string for GET, a JSON body otherwise, DELETE included), dispatch by method, and errors in the
client's one shape ``{"error_code", "message"}``.

The client reads the error code from the body, never from the status, and retries 408/429/5xx for
minutes, so refusals are always 4xx with a code it knows; domain errors are mapped in ``error_for``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from models_app import rules, services
from models_app.exceptions import (
    AlreadyExists,
    ApprovalRequired,
    ClientAborted,
    Conflict,
    Gone,
    InvalidInput,
    NotAllowed,
    NotFound,
    RegistryError,
    RollbackRequired,
    StorageUnavailable,
    TooLarge,
)
from models_app.inputs import ascii_int, loads_strict
from models_app.ops import metrics
from models_app.ops.throttle import WindowedRateThrottle

log = logging.getLogger("models_app.mlflow")

TOKEN_HINT = "Set MLFLOW_TRACKING_TOKEN to a registry API token (Authorization: Bearer <token>)."
CHALLENGE = {"WWW-Authenticate": "Bearer"}


class MlflowError(Exception):
    """An answer in the protocol's error shape: an MLflow error code, an HTTP status and a message."""

    def __init__(self, error_code: str, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.error_code, self.status, self.message = error_code, status, message
        self.headers = headers or {}


# Category -> (error code, status); the first match wins. Refusals of a promotion are PERMISSION_DENIED:
# nothing moves into or out of Production, and no protected alias moves, but by an approved request,
# whichever call asks.
ERRORS_BY_CATEGORY: tuple[tuple[type[RegistryError], str, int], ...] = (
    (NotFound, "RESOURCE_DOES_NOT_EXIST", 404),
    # A purged version's files are gone for good (VersionPurged): not there, and no retry brings them back.
    (Gone, "RESOURCE_DOES_NOT_EXIST", 410),
    (NotAllowed, "PERMISSION_DENIED", 403),
    (ApprovalRequired, "PERMISSION_DENIED", 403),
    (RollbackRequired, "PERMISSION_DENIED", 403),
    (AlreadyExists, "RESOURCE_ALREADY_EXISTS", 400),
    (Conflict, "INVALID_STATE", 400),
    (InvalidInput, "INVALID_PARAMETER_VALUE", 400),
    (TooLarge, "INVALID_PARAMETER_VALUE", 400),
    # The one error a retry can cure: the client's own retries are right here.
    (StorageUnavailable, "TEMPORARILY_UNAVAILABLE", 503),
)


def error_for(exc: RegistryError) -> MlflowError:
    """The protocol answer for a domain error; an input error's message names the field."""
    message = exc.message
    if exc.field and isinstance(exc, InvalidInput | TooLarge) and f"'{exc.field}'" not in message:
        message = f"Invalid value for '{exc.field}': {message}"
    for category, code, status in ERRORS_BY_CATEGORY:
        if isinstance(exc, category):
            return MlflowError(code, status, message)
    return MlflowError("INTERNAL_ERROR", 500, message)


def error_response(error: MlflowError) -> JsonResponse:
    response = JsonResponse({"error_code": error.error_code, "message": error.message}, status=error.status)
    for key, value in error.headers.items():
        response[key] = value
    return response


@csrf_exempt
def endpoint_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Any path under the protocol's prefixes that no endpoint serves (the client then tries a fallback);
    a caller must still authenticate to learn that."""
    try:
        authenticate(request)
    except MlflowError as exc:
        return error_response(exc)
    except RegistryError as exc:
        return error_response(error_for(exc))
    return error_response(
        MlflowError(
            "ENDPOINT_NOT_FOUND",
            404,
            f"The registry does not implement {request.method} {request.path} of the MLflow protocol.",
        )
    )


class Params:
    """A request's parameters, read with errors that name the parameter."""

    def __init__(self, data, *, query: bool):
        self._data, self._query = data, query

    def has(self, name: str) -> bool:
        return name in self._data and self._data.get(name) not in (None, "")

    def raw(self, name: str, default=None):
        return self._data.get(name, default)

    def str(self, *names: str, required: bool = False, default: str = "") -> str:
        """The first of ``names`` that is given (the client sends ``run_id`` and ``run_uuid`` alike)."""
        for name in names:
            value = self._data.get(name)
            if value not in (None, ""):
                if not isinstance(value, str):
                    raise InvalidInput("Must be a string.", field=name)
                return value
        if required:
            raise InvalidInput(f"Missing value for required parameter '{names[0]}'.", field=names[0])
        return default

    def int(
        self, name: str, *, default: int | None = None, minimum: int = 0, maximum: int | None = None
    ) -> int | None:
        value = self._data.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidInput("Must be an integer.", field=name)
        # The query string and JSON strings alike: ASCII digits only (``ascii_int``).
        return ascii_int(str(value), field=name, minimum=minimum, maximum=maximum)

    def bool(self, name: str, *, default: bool = False) -> bool:
        value = self._data.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidInput("Must be true or false.", field=name)

    def list(self, name: str) -> list:
        """A list parameter: repeated keys in a query string, a JSON array in a body."""
        if self._query:
            return self._data.getlist(name)
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidInput("Must be a list.", field=name)
        return value

    def tags(self, name: str = "tags") -> dict[str, str]:
        """``[{"key", "value"}]`` as a dict (a tag given twice keeps the last value, as MLflow does)."""
        out = {}
        for i, item in enumerate(self.list(name)):
            if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
                raise InvalidInput(
                    'Must be a {"key", "value"} object with a non-empty key.', field=f"{name}[{i}]"
                )
            value = item.get("value", "")
            if not isinstance(value, str):
                raise InvalidInput("Must be a string.", field=f"{name}.{item['key']}")
            out[item["key"]] = value
        return out


class TokenBudget(WindowedRateThrottle):
    """The API's per-token request budget, under the API's scope and cache key: one budget per token,
    whichever door it uses (``REGISTRY_API_THROTTLE_RATE``)."""

    scope = "token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": f"token-{request.auth.pk}"}


def authenticate(request: HttpRequest):
    """The user of the request's bearer token, who must hold a registry role (``rules.may_use_registry``)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.strip().partition(" ")
    if not header:
        raise MlflowError("UNAUTHENTICATED", 401, f"Authentication required. {TOKEN_HINT}", CHALLENGE)
    if scheme.lower() != "bearer" or not credentials.strip():
        raise MlflowError(
            "UNAUTHENTICATED", 401, f"Unsupported Authorization header. {TOKEN_HINT}", CHALLENGE
        )
    token = services.api_token_authenticate(credentials.strip())
    if token is None:
        raise MlflowError("UNAUTHENTICATED", 401, "Invalid, expired or revoked token.", CHALLENGE)
    request.user, request.auth = token.user, token
    rules.refuse(rules.may_use_registry(token.user))
    budget = TokenBudget()
    if not budget.allow_request(request, None):
        wait = budget.wait()
        raise MlflowError(
            "REQUEST_LIMIT_EXCEEDED",
            429,
            "Too many requests with this token; slow down.",
            headers={"Retry-After": str(max(1, int(wait or 1)))},
        )
    return token.user


def _params(request: HttpRequest, raw_body: bool) -> Params:
    if request.method in ("GET", "HEAD") or raw_body:
        return Params(request.GET, query=True)
    try:
        body = request.body
    except RequestDataTooBig:
        raise InvalidInput("The request body is larger than the configured limit.", field="body") from None
    if not body.strip():
        return Params({}, query=False)
    data = loads_strict(body, field="body")
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.", field="body")
    return Params(data, query=False)


Handler = Callable[..., dict | HttpResponseBase]


def endpoint(*, raw_body: bool = False, **handlers: Handler):
    """A view serving one protocol path: ``handlers`` by method (``GET=...``, ``POST=...``); each gets the
    request and its Params (plus the path's keyword arguments) and answers a dict (sent as JSON) or a
    response. With ``raw_body`` the handler reads the body itself (artifact uploads)."""

    @csrf_exempt
    def view(request: HttpRequest, **kwargs):
        try:
            authenticate(request)
            handler = handlers.get(request.method)
            if handler is None:
                raise MlflowError(
                    "ENDPOINT_NOT_FOUND",
                    405,
                    f"{request.method} is not supported on {request.path}; use {', '.join(sorted(handlers))}.",
                )
            answer = handler(request, _params(request, raw_body), **kwargs)
            return answer if isinstance(answer, HttpResponseBase) else JsonResponse(answer)
        except MlflowError as exc:
            return error_response(exc)
        except ClientAborted as exc:
            # The client went away mid-body: a warning and a count, not a server error's traceback.
            metrics.record_client_abort("mlflow_artifact")
            log.warning(
                "client aborted %s %s mid-body", request.method, request.path, extra={"event": "client_abort"}
            )
            return error_response(error_for(exc))
        except RegistryError as exc:
            return error_response(error_for(exc))
        except Exception:
            log.exception("MLflow endpoint %s %s failed", request.method, request.path)
            return error_response(
                MlflowError("INTERNAL_ERROR", 500, "Internal error; see the registry's logs.")
            )

    view.handlers = handlers
    return view
