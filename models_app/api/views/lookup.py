"""What every resource view shares: the model and version named in the URL, looked up once, and input
validation that names the offending field."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from models_app import selectors
from models_app.exceptions import (
    NotFound,
    RegistryError,
)
from models_app.models import ModelVersion, RegisteredModel

NAME_PARAM = OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Model name.")


REF_PARAM = OpenApiParameter(
    "ref",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="A version number, `latest`, `production`, `staging` (newest in Staging), `archived` or `@alias`.",
)


def validated(serializer_class, data, **kwargs) -> dict:
    """Shape-check ``data``; a bad field gives 400 naming it."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _renamed(exc: RegistryError, field: str) -> RegistryError:
    """The same error, naming the input field the caller actually sent."""
    exc.field = field
    return exc


def model_or_404(name: str, *, field: str | None = None) -> RegisteredModel:
    """The model row (with its team): what a request about its versions, aliases or settings needs."""
    try:
        return selectors.registered_model_row(name=name)
    except NotFound as exc:
        raise (_renamed(exc, field) if field else exc) from None


def version_or_404(model: RegisteredModel, ref, *, field: str | None = None) -> ModelVersion:
    """The version row ``ref`` names; answers read it again with ``selectors.version_read``."""
    try:
        return selectors.version_row_get(registered_model=model, ref=ref)
    except NotFound as exc:
        raise (_renamed(exc, field) if field else exc) from None


class ModelScopedMixin:
    """Views under ``/models/{name}/``: the model row is looked up once per request (without the list's
    annotations and prefetches, which only the model's own representation shows)."""

    def get_registered_model(self) -> RegisteredModel:
        if not hasattr(self, "_registered_model"):
            self._registered_model = model_or_404(self.kwargs["name"])
        return self._registered_model
