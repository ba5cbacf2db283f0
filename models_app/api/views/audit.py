"""The audit ledger, its hash-chain verification and point-in-time history."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from models_app import selectors
from models_app.api import serializers as s
from models_app.api.number_fields import AsciiIntegerField
from models_app.api.permissions import HasRegistryRole
from models_app.api.schema import error_responses
from models_app.api.views.lookup import NAME_PARAM, ModelScopedMixin, validated
from models_app.audit_anchor import verify_ledger
from models_app.filters import (
    LedgerFilterSet,
)
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


class AnchorCheckSerializer(serializers.Serializer):
    """How the chain compares with the newest signed checkpoint (``anchor_audit``)."""

    status = serializers.ChoiceField(
        choices=["consistent", "rewound", "invalid", "none", "unconfigured", "unavailable"],
        help_text="`rewound`: the database holds less than, or other rows than, the checkpoint covered; "
        "`invalid`: its signature does not verify; `none`: no checkpoint yet; `unconfigured`: no "
        "REGISTRY_AUDIT_ANCHOR_KEY; `unavailable`: the store could not be read.",
    )
    detail = serializers.CharField()
    checkpoint = serializers.CharField(allow_null=True, help_text="The checkpoint's name in the store.")
    count = AsciiIntegerField(allow_null=True, help_text="Rows the checkpoint covered.")
    created_at = serializers.DateTimeField(allow_null=True, help_text="When the checkpoint was written.")


class ChainReportSerializer(serializers.Serializer):
    """The outcome of verifying the ledger's hash chain against itself and its newest checkpoint."""

    ok = serializers.BooleanField(help_text="True when every row is intact and in place.")
    checked = AsciiIntegerField(help_text="Rows walked before the verdict.")
    first_bad_id = AsciiIntegerField(
        allow_null=True,
        help_text="Id of the first altered, inserted or removed row (null when ok, truncated or rewound "
        "to fewer rows than the checkpoint covered).",
    )
    kind = serializers.ChoiceField(
        choices=["", "altered", "inserted", "removed", "truncated", "rewound", "anchor_invalid"],
        help_text="What is wrong; empty when ok.",
    )
    problem = serializers.CharField(allow_blank=True, help_text="A sentence describing the problem.")
    anchor = AnchorCheckSerializer(allow_null=True)


class AuditVerifyView(APIView):
    """Walk the whole ledger and recompute every row's hash and link."""

    permission_classes = [HasRegistryRole]

    @extend_schema(
        operation_id="audit_verify",
        summary="Verify the ledger's hash chain",
        description=(
            "Recomputes every ledger row's SHA-256 and checks each row links to the previous one, then "
            "compares the chain with the newest signed checkpoint (`anchor`). Answers 200 either way; `ok` "
            "is false and `first_bad_id` names the first altered, inserted or removed row when the ledger "
            "has been tampered with, and `kind` is `rewound` (with the checkpoint's count and time in "
            "`anchor`) when the database holds less than, or differs from, what a checkpoint covered."
        ),
        responses={200: ChainReportSerializer},
        tags=["audit"],
    )
    def get(self, request):
        return Response(ChainReportSerializer(verify_ledger().as_dict()).data)
