"""Maps domain errors to HTTP in one place.

Every API error has one shape: ``{"type": ..., "errors": [{"code", "detail", "attr"}]}`` where
``attr`` names the offending field (drf-standardized-errors formats it). A ``RegistryError``'s
category decides the status, its ``code`` becomes the error code and its ``field`` the ``attr``.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.handler import exception_handler as standardized_exception_handler
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail

from models_app.exceptions import (
    Conflict,
    Gone,
    InvalidInput,
    NotAllowed,
    NotFound,
    RegistryError,
    StorageUnavailable,
    TooLarge,
)

# Category -> HTTP status. The first match wins; subclasses inherit their category's status.
STATUS_BY_CATEGORY: tuple[tuple[type[RegistryError], int], ...] = (
    (NotFound, status.HTTP_404_NOT_FOUND),
    (NotAllowed, status.HTTP_403_FORBIDDEN),
    (Conflict, status.HTTP_409_CONFLICT),
    (Gone, status.HTTP_410_GONE),
    (InvalidInput, status.HTTP_400_BAD_REQUEST),
    (TooLarge, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE),
    (StorageUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
)


def status_for(exc: RegistryError) -> int:
    """The HTTP status of a domain error (500 for an error outside every category: a bug)."""
    for category, code in STATUS_BY_CATEGORY:
        if isinstance(exc, category):
            return code
    return status.HTTP_500_INTERNAL_SERVER_ERROR


def _detail(message: str, code: str, field: str | None):
    detail = ErrorDetail(message, code=code)
    # A dict detail makes the formatter fill ``attr`` with the field's name.
    return {field: [detail]} if field else [detail]


class DomainError(exceptions.APIException):
    """A RegistryError translated for DRF (any status but 400)."""

    def __init__(self, exc: RegistryError, status_code: int):
        self.status_code = status_code
        self.detail = _detail(exc.message, exc.code, exc.field)


class DomainValidationError(exceptions.ValidationError):
    """An InvalidInput translated for DRF: a 400 ``validation_error`` naming the field."""

    def __init__(self, exc: RegistryError):
        self.detail = _detail(exc.message, exc.code, exc.field or "non_field_errors")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the configured limit."
    default_code = "too_large"


class RangeNotSatisfiable(exceptions.APIException):
    """A download's ``Range`` header that is malformed or outside the file (416)."""

    status_code = status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE

    def __init__(self, header: str, size: int):
        self.size = size
        message = f"Range {header!r} cannot be satisfied for a file of {size} bytes."
        self.detail = _detail(message, "range_not_satisfiable", "Range")


def to_api_exception(exc: Exception) -> Exception:
    """Translate domain and Django errors into DRF exceptions; leave everything else alone."""
    if isinstance(exc, RegistryError):
        code = status_for(exc)
        if code == status.HTTP_400_BAD_REQUEST:
            return DomainValidationError(exc)
        return DomainError(exc, code)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(str(exc))
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return exceptions.ValidationError({"file": [ErrorDetail(str(exc), code="too_many_parts")]})
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(
            {"non_field_errors": [ErrorDetail(m, code="invalid") for m in exc.messages]}
        )
    return exc


def _with_codes(detail, default: str):
    """``detail`` with every code filled in: an error added without one (a filter's, a form's) would
    otherwise reach the client as ``"code": null``."""
    if isinstance(detail, dict):
        return {key: _with_codes(value, default) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_with_codes(item, default) for item in detail]
    if isinstance(detail, ErrorDetail) and not detail.code:
        return ErrorDetail(str(detail), code=default)
    return detail


class RegistryExceptionHandler(ExceptionHandler):
    """drf-standardized-errors' handler, taught the domain errors."""

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        exc = super().convert_known_exceptions(to_api_exception(exc))
        if isinstance(exc, exceptions.APIException):
            exc.detail = _with_codes(exc.detail, exc.default_code)
        return exc


# The library's entry point itself (not a wrapper), so its schema generator recognises the handler
# and documents the error responses; DRF_STANDARDIZED_ERRORS points it at RegistryExceptionHandler.
exception_handler = standardized_exception_handler
