"""GET /api/v1/audit/verify/: the result of walking the ledger's hash chain."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from models_app.api.permissions import HasRegistryRole
from models_app.ledger import verify_chain


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
