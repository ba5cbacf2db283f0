"""Policy as code: a model's approval, gate, freeze, protected-alias and retention policy, read and
replaced as one document (``GET, PUT /api/v1/models/{name}/policy/``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.response import Response

from models_app import rules, selectors, services
from models_app.api import serializers as s
from models_app.api.schema import error_responses
from models_app.api.views.lookup import NAME_PARAM, ModelScopedMixin, validated

POLICY_FIELDS = (
    "required_approvals",
    "metric_gates",
    "group_approvals",
    "freeze_windows",
    "protected_aliases",
    "retention",
)


@extend_schema_view(
    get=extend_schema(
        summary="Get a model's policy (its team and Governance)",
        tags=["governance"],
        parameters=[NAME_PARAM],
        responses={200: s.PromotionPolicySerializer, **error_responses(403)},
    ),
    put=extend_schema(
        summary="Set a model's policy (Governance)",
        description=(
            "The fields given replace the model's; fields left out keep their value. Each change is a "
            "`policy_changed` ledger row recording the whole policy before and after; a bad field is "
            "400 naming it (`metric_gates[0].op`) and nothing is written. `protected_aliases` move only "
            'by an approved request (`POST /api/v1/transition-requests/` with `"to": "@alias"`).'
        ),
        tags=["governance"],
        parameters=[NAME_PARAM],
        request=s.PolicyInputSerializer,
        responses={200: s.PromotionPolicySerializer, **error_responses(400, 403)},
    ),
)
class ModelPolicyView(ModelScopedMixin, generics.GenericAPIView):
    serializer_class = s.PromotionPolicySerializer

    def _answer(self) -> Response:
        model = selectors.registered_model_get(name=self.get_registered_model().name)
        return Response(s.promotion_policy_data(model))

    def get(self, request, name):
        model = self.get_registered_model()
        rules.refuse(rules.may_read_policy(request.user, registered_model=model))
        return self._answer()

    def put(self, request, name):
        data = validated(s.PolicyInputSerializer, request.data)
        changes = {key: data[key] for key in POLICY_FIELDS if key in data}
        services.promotion_policy_set(
            registered_model=self.get_registered_model(),
            actor=request.user,
            comment=data.get("comment", ""),
            **changes,
        )
        return self._answer()
