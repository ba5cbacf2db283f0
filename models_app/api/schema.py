"""OpenAPI helpers: the one error shape, described for every status the API answers with."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum, ValidationErrorEnum
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable machine-readable code, e.g. `approval_required`, `checksum_mismatch`, `not_found`."
    )
    detail = serializers.CharField(help_text="A message for people.")
    attr = serializers.CharField(
        allow_null=True, help_text="The offending field (dotted for nested fields), or null."
    )


class ValidationErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ValidationErrorEnum.choices)
    errors = ErrorSerializer(many=True)


class ClientErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = ErrorSerializer(many=True)


class ServerErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)
    errors = ErrorSerializer(many=True)


# Bad input (validation_error) or a body that cannot be parsed (client_error, code parse_error).
ErrorResponse400 = PolymorphicProxySerializer(
    component_name="ErrorResponse400",
    serializers={
        ValidationErrorEnum.VALIDATION_ERROR.value: ValidationErrorResponseSerializer,
        ClientErrorEnum.CLIENT_ERROR.value: ClientErrorResponseSerializer,
    },
    resource_type_field_name="type",
)

_DESCRIPTIONS = {
    400: "Bad input; `attr` names the field.",
    403: "Not allowed for your role or team (for example `self_approval_forbidden`).",
    404: "No such model, version, file, request or alias.",
    409: "Conflicts with the current state: `invalid_transition`, `approval_required`, `stale_state`, ...",
    410: "The version's files were purged (`version_purged`): it can no longer be downloaded or used.",
    413: "The request body is larger than the configured limit (`too_large`).",
    416: "The requested byte range cannot be satisfied (`range_not_satisfiable`).",
    503: "The artifact storage is unreachable; nothing was stored (`storage_unavailable`).",
}


def error_responses(*statuses: int) -> dict:
    """Extra documented error responses for ``extend_schema(responses=...)``."""
    out = {}
    for code in statuses:
        serializer = {
            400: ErrorResponse400,
            503: ServerErrorResponseSerializer,
        }.get(code, ClientErrorResponseSerializer)
        out[code] = OpenApiResponse(serializer, description=_DESCRIPTIONS.get(code, ""))
    return out
