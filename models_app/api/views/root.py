"""``/api/v1/``: the API's index, so a newcomer (or a client) finds the resources, the schema and the
docs from the one URL they know."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

# The collections, by the names their URL patterns have (app_name="api").
RESOURCES = {
    "models": "api:model-list",
    "transition_requests": "api:transitionrequest-list",
    "audit": "api:audit-list",
    "audit_verify": "api:audit-verify",
    "events": "api:event-list",
    "webhooks": "api:webhook-list",
    "tokens": "api:apitoken-list",
    "health": "api:health",
    "ready": "api:ready",
}
DOCS = {"schema": "api:schema", "docs": "api:docs", "redoc": "api:redoc"}
# Paths below a model or a version, with their parameters left as placeholders.
TEMPLATES = {
    "model": "models/{name}/",
    "versions": "models/{name}/versions/",
    "version": "models/{name}/versions/{ref}/",
    "file": "models/{name}/versions/{ref}/files/{path}",
    "transition": "models/{name}/versions/{ref}/transition/",
    "deployments": "models/{name}/versions/{ref}/deployments/",
    "rollback": "models/{name}/rollback/",
    "aliases": "models/{name}/aliases/",
    "history": "models/{name}/history/",
}


class ApiRootView(APIView):
    """The index: absolute links to every collection, the OpenAPI schema and its viewers."""

    @extend_schema(
        summary="The API's index: links to the resources, the schema and the docs",
        tags=["index"],
        responses={
            200: inline_serializer(
                "ApiIndex",
                {
                    "name": serializers.CharField(),
                    "version": serializers.CharField(),
                    "resources": serializers.DictField(child=serializers.URLField()),
                    "templates": serializers.DictField(child=serializers.CharField()),
                    "schema": serializers.URLField(),
                    "docs": serializers.URLField(),
                    "redoc": serializers.URLField(),
                },
            )
        },
    )
    def get(self, request):
        absolute = request.build_absolute_uri
        root = absolute(reverse("api:root"))
        body = {
            "name": "Model Registry API",
            "version": "v1",
            "resources": {key: absolute(reverse(name)) for key, name in RESOURCES.items()},
            "templates": {key: root + path for key, path in TEMPLATES.items()},
            **{key: absolute(reverse(name)) for key, name in DOCS.items()},
        }
        return Response(body)
