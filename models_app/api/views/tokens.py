"""The caller's own API tokens: list, create (plaintext shown once), get, revoke."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from models_app.api import serializers as s
from models_app.api.schema import error_responses
from models_app.api.views.lookup import validated
from models_app.exceptions import (
    NotFound,
)
from models_app.models import ApiToken
from models_app.services.tokens import api_token_create, api_token_revoke


@extend_schema_view(
    get=extend_schema(summary="List your API tokens", tags=["tokens"]),
    post=extend_schema(
        summary="Create an API token (the plaintext is shown once)",
        tags=["tokens"],
        request=s.ApiTokenCreateInputSerializer,
        responses={201: s.ApiTokenCreatedSerializer, **error_responses(409)},
    ),
)
class ApiTokenListView(generics.ListAPIView):
    serializer_class = s.ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user).order_by("name", "id")

    def post(self, request):
        data = validated(s.ApiTokenCreateInputSerializer, request.data)
        token, plaintext = api_token_create(
            user=request.user, name=data["name"], expires_in_days=data.get("expires_in_days")
        )
        token.token = plaintext
        return Response(s.ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="Get one of your API tokens", tags=["tokens"]),
    delete=extend_schema(
        summary="Revoke one of your API tokens (it stays listed, unusable)",
        tags=["tokens"],
        responses={204: OpenApiResponse(description="Revoked.")},
    ),
)
class ApiTokenDetailView(generics.GenericAPIView):
    serializer_class = s.ApiTokenSerializer

    def _own(self, pk) -> ApiToken:
        token = ApiToken.objects.filter(user=self.request.user, pk=pk).first()
        if token is None:
            raise NotFound(f"You have no API token #{pk}.", field="id")
        return token

    def get(self, request, pk):
        return Response(self.get_serializer(self._own(pk)).data)

    def delete(self, request, pk):
        api_token_revoke(token=self._own(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
