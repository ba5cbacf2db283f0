"""Transition requests: list, create, get, approve, reject, cancel."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.reverse import reverse

from models_app import selectors, services
from models_app.api import serializers as s
from models_app.api.schema import error_responses
from models_app.api.views.lookup import model_or_404, validated, version_or_404
from models_app.filters import (
    TransitionRequestFilterSet,
)


@extend_schema_view(
    get=extend_schema(summary="List transition requests", tags=["transition requests"]),
    post=extend_schema(
        summary="Request a change that needs approval",
        description=(
            '`"to": "production"` promotes a version from Staging (metric gates apply). `"to": "archived"` '
            "retires the Production version (a reason in `comment` is required; the model then has no "
            'Production version). `"to": "@champion"` points a protected alias at the version (metric '
            "gates apply). Each is applied when the model's approvals are met, never during a freeze window."
        ),
        tags=["transition requests"],
        request=s.TransitionRequestCreateInputSerializer,
        responses={201: s.TransitionRequestSerializer, **error_responses(409)},
    ),
)
class TransitionRequestListView(generics.ListAPIView):
    serializer_class = s.TransitionRequestSerializer
    filterset_class = TransitionRequestFilterSet

    def get_queryset(self):
        return selectors.transition_request_list()

    def post(self, request):
        data = validated(s.TransitionRequestCreateInputSerializer, request.data)
        model = model_or_404(data["model"], field="model")
        version = version_or_404(model, data["version"], field="version")
        req = services.transition_request_create(
            version=version, to=data["to"], actor=request.user, comment=data["comment"]
        )
        body = self.get_serializer(selectors.transition_request_get(pk=req.pk)).data
        location = reverse("api:transitionrequest-detail", kwargs={"pk": req.pk}, request=request)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Request id.")


@extend_schema(summary="Get a transition request", tags=["transition requests"], parameters=[ID_PARAM])
class TransitionRequestDetailView(generics.GenericAPIView):
    serializer_class = s.TransitionRequestSerializer

    def get(self, request, pk):
        return Response(self.get_serializer(selectors.transition_request_get(pk=pk)).data)


class _DecisionView(generics.GenericAPIView):
    serializer_class = s.TransitionRequestSerializer
    service = None

    def post(self, request, pk):
        data = validated(s.DecisionInputSerializer, request.data)
        req = selectors.transition_request_get(pk=pk)
        type(self).service(req, request.user, data["comment"])
        return Response(self.get_serializer(selectors.transition_request_get(pk=pk)).data)


def _decision_schema(summary: str, description: str):
    return extend_schema(
        summary=summary,
        description=description,
        tags=["transition requests"],
        parameters=[ID_PARAM],
        request=s.DecisionInputSerializer,
        responses={200: s.TransitionRequestSerializer, **error_responses(409)},
    )


@_decision_schema(
    "Approve a request",
    "A reviewer other than the requester approves; with enough approvals the change is applied "
    "(a promotion archives the previous Production version; a retirement archives the Production version; "
    "an alias request moves the alias). The requester gets 403 `self_approval_forbidden`.",
)
class TransitionRequestApproveView(_DecisionView):
    @staticmethod
    def service(req, user, comment):
        return services.transition_request_approve(transition_request=req, actor=user, comment=comment)


@_decision_schema("Reject a request", "One rejection closes the request.")
class TransitionRequestRejectView(_DecisionView):
    @staticmethod
    def service(req, user, comment):
        return services.transition_request_reject(transition_request=req, actor=user, comment=comment)


@_decision_schema("Cancel a request", "Only the requester may cancel a pending request.")
class TransitionRequestCancelView(_DecisionView):
    @staticmethod
    def service(req, user, comment):
        return services.transition_request_cancel(transition_request=req, actor=user, comment=comment)
