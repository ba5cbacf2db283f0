"""Aliases: list, get, compare-and-set, remove."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from models_app import services
from models_app.api import serializers as s
from models_app.api.schema import error_responses
from models_app.api.views.lookup import NAME_PARAM, ModelScopedMixin, validated
from models_app.exceptions import (
    NotFound,
)
from models_app.models import ModelAlias
from models_app.services import UNSET

ALIAS_PARAM = OpenApiParameter("alias", OpenApiTypes.STR, OpenApiParameter.PATH, description="Alias name.")


@extend_schema(summary="List a model's aliases", tags=["aliases"], parameters=[NAME_PARAM])
class ModelAliasListView(ModelScopedMixin, generics.ListAPIView):
    serializer_class = s.ModelAliasSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ModelAlias.objects.none()
        return (
            ModelAlias.objects.filter(registered_model=self.get_registered_model())
            .select_related("registered_model", "version", "updated_by")
            .order_by("name")
        )


@extend_schema_view(
    get=extend_schema(summary="Get an alias", tags=["aliases"], parameters=[NAME_PARAM, ALIAS_PARAM]),
    put=extend_schema(
        summary="Point an alias at a version (compare-and-set with expected_version)",
        tags=["aliases"],
        parameters=[NAME_PARAM, ALIAS_PARAM],
        request=s.AliasSetInputSerializer,
        responses={200: s.ModelAliasSerializer, **error_responses(409)},
    ),
    delete=extend_schema(
        summary="Remove an alias (compare-and-set with expected_version)",
        tags=["aliases"],
        parameters=[
            NAME_PARAM,
            ALIAS_PARAM,
            OpenApiParameter(
                "expected_version",
                OpenApiTypes.INT,
                OpenApiParameter.QUERY,
                description="Compare-and-set: refuse with 409 unless the alias points at this version.",
            ),
        ],
        request=s.AliasDeleteInputSerializer,
        responses={204: OpenApiResponse(description="Removed."), **error_responses(409)},
    ),
)
class ModelAliasDetailView(ModelScopedMixin, generics.GenericAPIView):
    serializer_class = s.ModelAliasSerializer

    def _read(self, alias: str) -> ModelAlias:
        row = (
            ModelAlias.objects.filter(registered_model=self.get_registered_model(), name=alias)
            .select_related("registered_model", "version", "updated_by")
            .first()
        )
        if row is None:
            raise NotFound(f"Alias '@{alias}' does not exist on '{self.kwargs['name']}'.", field="alias")
        return row

    def get(self, request, name, alias):
        return Response(self.get_serializer(self._read(alias)).data)

    def put(self, request, name, alias):
        data = validated(s.AliasSetInputSerializer, request.data)
        model = self.get_registered_model()
        row = services.alias_set(
            registered_model=model,
            alias=alias,
            version_number=data["version"],
            actor=request.user,
            expected_version=data.get("expected_version", UNSET),
        )
        # The row the service wrote (or found) carries its version and author: no read back.
        row.registered_model = model
        return Response(self.get_serializer(row).data)

    def delete(self, request, name, alias):
        raw = request.data if request.data else request.query_params.dict()
        data = validated(s.AliasDeleteInputSerializer, raw)
        services.alias_delete(
            registered_model=self.get_registered_model(),
            alias=alias,
            actor=request.user,
            expected_version=data.get("expected_version", UNSET),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
