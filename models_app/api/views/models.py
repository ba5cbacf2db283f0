"""Models: list, create, get, edit."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from models_app import selectors, services
from models_app.api import serializers as s
from models_app.api.schema import error_responses
from models_app.api.views.lookup import NAME_PARAM, ModelScopedMixin, validated
from models_app.filters import (
    RegisteredModelFilterSet,
)


@extend_schema_view(
    get=extend_schema(summary="List models", tags=["models"]),
    post=extend_schema(
        summary="Create a model",
        tags=["models"],
        request=s.RegisteredModelCreateInputSerializer,
        responses={201: s.RegisteredModelSerializer, **error_responses(409)},
    ),
)
class RegisteredModelListView(generics.ListAPIView):
    serializer_class = s.RegisteredModelSerializer
    filterset_class = RegisteredModelFilterSet

    def get_queryset(self):
        return selectors.registered_model_list()

    def post(self, request):
        data = validated(s.RegisteredModelCreateInputSerializer, request.data)
        model = services.registered_model_create(actor=request.user, **data)
        model = selectors.registered_model_get(name=model.name)
        body = self.get_serializer(model).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


@extend_schema_view(
    get=extend_schema(summary="Get a model", tags=["models"], parameters=[NAME_PARAM]),
    patch=extend_schema(
        summary="Edit a model (description and tags; team and required approvals: Governance)",
        tags=["models"],
        parameters=[NAME_PARAM],
        request=s.RegisteredModelUpdateInputSerializer,
        responses={200: s.RegisteredModelSerializer},
    ),
)
class RegisteredModelDetailView(ModelScopedMixin, generics.GenericAPIView):
    serializer_class = s.RegisteredModelSerializer

    def get(self, request, name):
        return Response(self.get_serializer(selectors.registered_model_get(name=name)).data)

    def patch(self, request, name):
        data = validated(s.RegisteredModelUpdateInputSerializer, request.data)
        services.registered_model_update(
            registered_model=self.get_registered_model(), actor=request.user, **data
        )
        return Response(self.get_serializer(selectors.registered_model_get(name=name)).data)
