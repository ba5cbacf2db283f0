"""The audit ledger, its hash-chain verification and point-in-time history."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from models_app import selectors
from models_app.api import serializers as s
from models_app.api.permissions import HasRegistryRole
from models_app.api.schema import error_responses
from models_app.api.views.lookup import NAME_PARAM, ModelScopedMixin, validated
from models_app.filters import (
    LedgerFilterSet,
)
from models_app.ledger import verify_chain
from models_app.models import LedgerEntry


@extend_schema(summary="The audit ledger, newest first", tags=["audit"])
class AuditListView(generics.ListAPIView):
    serializer_class = s.LedgerEntrySerializer
    filterset_class = LedgerFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LedgerEntry.objects.none()
        return selectors.ledger_list()


class HistoryQuerySerializer(s.StrictInputSerializer):
    at = s.serializers.DateTimeField(help_text="ISO 8601 time; without an offset it is read as UTC.")


@extend_schema(
    summary="Which version held each stage and alias at a moment",
    tags=["audit"],
    parameters=[NAME_PARAM, HistoryQuerySerializer],
    responses={200: s.HistorySerializer, **error_responses(400)},
)
class ModelHistoryView(ModelScopedMixin, APIView):
    def get(self, request, name):
        at = validated(HistoryQuerySerializer, request.query_params.dict())["at"]
        model = self.get_registered_model()
        snap = selectors.registered_model_history_at(registered_model=model, at=at)
        body = {
            "model": model.name,
            "at": snap.at,
            "stages": snap.stages,
            "aliases": snap.aliases,
            "production_entry": snap.production_entry,
            "production_request": snap.production_request,
            "production_approvals": snap.production_approvals,
            "policy": snap.policy,
        }
        return Response(s.HistorySerializer(body, context={"request": request}).data)


class ChainReportSerializer(serializers.Serializer):
    """The outcome of verifying the ledger's hash chain."""

    ok = serializers.BooleanField(help_text="True when every row is intact and in place.")
    checked = serializers.IntegerField(help_text="Rows walked before the verdict.")
    first_bad_id = serializers.IntegerField(
        allow_null=True,
        help_text="Id of the first altered, inserted or removed row (null when ok or truncated).",
    )
    kind = serializers.ChoiceField(
        choices=["", "altered", "inserted", "removed", "truncated"], help_text="What is wrong; empty when ok."
    )
    problem = serializers.CharField(allow_blank=True, help_text="A sentence describing the problem.")


class AuditVerifyView(APIView):
    """Walk the whole ledger and recompute every row's hash and link."""

    permission_classes = [HasRegistryRole]

    @extend_schema(
        operation_id="audit_verify",
        summary="Verify the ledger's hash chain",
        description=(
            "Recomputes every ledger row's SHA-256 and checks each row links to the previous one. "
            "Answers 200 either way; `ok` is false and `first_bad_id` names the first altered, inserted "
            "or removed row when the ledger has been tampered with."
        ),
        responses={200: ChainReportSerializer},
        tags=["audit"],
    )
    def get(self, request):
        return Response(ChainReportSerializer(verify_chain().as_dict()).data)
