"""API for pipelines that react to the registry: the events feed, webhook subscriptions with their
deliveries, and deployment reports. Views parse input, call a service or selector, and answer; domain
errors are mapped to HTTP in ``models_app.api.exceptions``."""

from __future__ import annotations

from django.contrib.auth.models import Group
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from models_app import selectors, services
from models_app.api.number_fields import AsciiIntegerField
from models_app.api.permissions import HasRegistryRole
from models_app.api.schema import error_responses
from models_app.api.serializers import StrictInputSerializer
from models_app.api.views.lookup import NAME_PARAM, REF_PARAM, ModelScopedMixin, validated, version_or_404
from models_app.choices import DeliveryState, DeploymentStatus, EventType
from models_app.exceptions import InvalidInput, NotFound
from models_app.inputs import is_ascii_int
from models_app.models import Deployment, Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from models_app.pipeline.events import event_body
from models_app.services import webhooks

# -- serializers ------------------------------------------------------------------------------------


class EventSerializer(serializers.Serializer):
    """An event as the feed and the webhook body show it (Standard Webhooks' type/timestamp/data)."""

    id = serializers.UUIDField(help_text="Unique; the `webhook-id` of its deliveries.")
    type = serializers.ChoiceField(choices=EventType.choices)
    timestamp = serializers.DateTimeField(help_text="When the change happened.")
    cursor = serializers.CharField(help_text="Pass as `after` to read the events after this one.")
    actor = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True)
    version = AsciiIntegerField(allow_null=True)
    request_id = serializers.CharField(allow_null=True)
    data = serializers.DictField(help_text="Type-specific details (stages, request, alias, files, ...).")

    def to_representation(self, instance):
        return event_body(instance) if isinstance(instance, Event) else instance


class EventFeedSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next_cursor = serializers.CharField(
        help_text="Pass as `after` next time (unchanged when nothing is new)."
    )
    has_more = serializers.BooleanField(help_text="More events are waiting: read again at once.")


class DeploymentSerializer(serializers.ModelSerializer):
    """One deployment report."""

    model = serializers.CharField(source="registered_model.name", read_only=True)
    version = AsciiIntegerField(source="version.version", read_only=True)
    reported_by = serializers.CharField(source="reported_by.username", read_only=True)

    class Meta:
        model = Deployment
        fields = ["id", "model", "version", "environment", "status", "url", "reported_by", "reported_at"]
        read_only_fields = fields


class DeploymentReportInputSerializer(StrictInputSerializer):
    environment = serializers.CharField(max_length=64, help_text="For example `prod-eu`.")
    status = serializers.ChoiceField(choices=DeploymentStatus.choices)
    url = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    """A subscription (its secret is shown only when created or rotated)."""

    model = serializers.CharField(source="registered_model.name", read_only=True, allow_null=True)
    team = serializers.CharField(source="team.name", read_only=True, allow_null=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), read_only=True
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    deliveries_url = serializers.SerializerMethodField()

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "model",
            "team",
            "active",
            "disabled_reason",
            "previous_secret_expires_at",
            "created_by",
            "created_at",
            "updated_at",
            "deliveries_url",
        ]
        read_only_fields = fields

    def get_deliveries_url(self, obj) -> str:
        return reverse("api:webhook-deliveries", kwargs={"pk": obj.pk}, request=self.context.get("request"))


class WebhookSubscriptionSecretSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="`whsec_…` signing secret for a Standard Webhooks verifier; shown only now."
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookSubscriptionCreateInputSerializer(StrictInputSerializer):
    url = serializers.CharField(max_length=2000, help_text="http(s) URL; must resolve to public addresses.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), required=False, default=list
    )
    model = serializers.CharField(required=False, max_length=100, help_text="Only this model's events.")
    team = serializers.SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False, help_text="Only this team's models."
    )
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    active = serializers.BooleanField(required=False, default=True)


class WebhookSubscriptionUpdateInputSerializer(StrictInputSerializer):
    url = serializers.CharField(max_length=2000, required=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), required=False
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    active = serializers.BooleanField(required=False)


class RotateSecretInputSerializer(StrictInputSerializer):
    overlap_hours = serializers.FloatField(
        required=False, min_value=0, max_value=720, help_text="How long the current secret stays valid."
    )


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "status_code",
            "response_excerpt",
            "error",
            "target_ip",
            "worker",
        ]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """A delivery of one event to the subscription, with every attempt."""

    event = EventSerializer(read_only=True)
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "event",
            "attempt_log",
        ]
        read_only_fields = fields


# -- events -----------------------------------------------------------------------------------------


def _int_param(request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not is_ascii_int(raw) or not low <= int(raw) <= high:
        raise InvalidInput(f"Must be a whole number from {low} to {high}.", field=name)
    return int(raw)


@extend_schema(
    summary="Read the events feed after a cursor",
    description=(
        "Events in the order they were committed. Start with `after=0` (everything) or `after=latest` "
        "(from now on), then pass the returned `next_cursor`. The cursor never skips or repeats an "
        "event, even under concurrent writes."
    ),
    tags=["events"],
    parameters=[
        OpenApiParameter("after", OpenApiTypes.STR, description="A cursor, `0`, or `latest`."),
        OpenApiParameter(
            "limit", OpenApiTypes.INT, description="At most this many events (1-500, default 100)."
        ),
        OpenApiParameter("type", OpenApiTypes.STR, description="Only these types (comma-separated)."),
        OpenApiParameter("model", OpenApiTypes.STR, description="Only this model's events."),
    ],
    responses={200: EventFeedSerializer, **error_responses(400, 404)},
)
class EventFeedView(APIView):
    permission_classes = [HasRegistryRole]

    def get(self, request):
        after_raw = request.query_params.get("after", "0")
        if after_raw == "latest":
            last = selectors.event_last_sequence()
            return Response({"results": [], "next_cursor": str(last), "has_more": False})
        if not is_ascii_int(after_raw):
            raise InvalidInput("Must be a cursor from a previous answer, 0, or 'latest'.", field="after")
        after = int(after_raw)
        limit = _int_param(request, "limit", default=100, low=1, high=500)
        types = [t for t in request.query_params.get("type", "").split(",") if t]
        unknown = sorted(set(types) - set(EventType.values))
        if unknown:
            raise InvalidInput(f"Unknown event type {unknown[0]!r}.", field="type")
        model = None
        if request.query_params.get("model"):
            model = selectors.registered_model_get(name=request.query_params["model"])
        events = selectors.event_list_after(after=after, limit=limit + 1, types=types, registered_model=model)
        has_more = len(events) > limit
        events = events[:limit]
        next_cursor = str(events[-1].sequence) if events else str(after)
        body = {"results": [event_body(e) for e in events], "next_cursor": next_cursor, "has_more": has_more}
        return Response(body)


# -- deployments ------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        summary="List a version's deployment reports",
        tags=["deployments"],
        parameters=[NAME_PARAM, REF_PARAM],
    ),
    post=extend_schema(
        summary="Report a deployment of a version (from the CD pipeline)",
        tags=["deployments"],
        parameters=[NAME_PARAM, REF_PARAM],
        request=DeploymentReportInputSerializer,
        responses={201: DeploymentSerializer, **error_responses(400, 403, 404, 409)},
    ),
)
class DeploymentListView(ModelScopedMixin, generics.ListAPIView):
    serializer_class = DeploymentSerializer
    permission_classes = [HasRegistryRole]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Deployment.objects.none()
        version = version_or_404(self.get_registered_model(), self.kwargs["ref"])
        return selectors.deployment_list(version=version)

    def post(self, request, name, ref):
        data = validated(DeploymentReportInputSerializer, request.data)
        version = version_or_404(self.get_registered_model(), ref)
        deployment = services.deployment_report(version=version, actor=request.user, **data)
        return Response(self.get_serializer(deployment).data, status=status.HTTP_201_CREATED)


# -- webhooks ---------------------------------------------------------------------------------------


def _subscription_for(user, pk) -> WebhookSubscription:
    sub = selectors.webhook_subscription_list(user=user).filter(pk=pk).first()
    if sub is None:
        raise NotFound(f"No webhook subscription #{pk} that you can manage.", field="id")
    return sub


def _with_secret(view, sub: WebhookSubscription, secret: str, **kwargs) -> Response:
    """The subscription read afresh (with the list's joins) and, this once, its new signing secret."""
    sub = _subscription_for(view.request.user, sub.pk)
    sub.secret = secret
    return Response(
        WebhookSubscriptionSecretSerializer(sub, context=view.get_serializer_context()).data, **kwargs
    )


class SubscriptionScopedMixin:
    """Views under ``/webhooks/{pk}/``: a subscription the caller manages, or 404."""

    permission_classes = [HasRegistryRole]

    def get_subscription(self) -> WebhookSubscription:
        return _subscription_for(self.request.user, self.kwargs["pk"])


@extend_schema_view(
    get=extend_schema(summary="List the webhook subscriptions you manage", tags=["webhooks"]),
    post=extend_schema(
        summary="Subscribe a URL to events",
        description=(
            "Deliveries follow the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`, "
            "`webhook-signature: v1,<base64>`), signed with the `secret` answered here (only now). Give a "
            "`model` or a `team` to limit the events; subscribing to every model is Governance's."
        ),
        tags=["webhooks"],
        request=WebhookSubscriptionCreateInputSerializer,
        responses={201: WebhookSubscriptionSecretSerializer, **error_responses(400, 403, 404)},
    ),
)
class WebhookSubscriptionListView(generics.ListAPIView):
    serializer_class = WebhookSubscriptionSerializer
    permission_classes = [HasRegistryRole]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookSubscription.objects.none()
        return selectors.webhook_subscription_list(user=self.request.user)

    def post(self, request):
        data = validated(WebhookSubscriptionCreateInputSerializer, request.data)
        model_name = data.pop("model", None)
        model = selectors.registered_model_get(name=model_name) if model_name else None
        sub, secret = webhooks.webhook_subscription_create(actor=request.user, registered_model=model, **data)
        return _with_secret(self, sub, secret, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="Get a webhook subscription", tags=["webhooks"]),
    patch=extend_schema(
        summary="Change a subscription's URL, event types, description or active flag",
        tags=["webhooks"],
        request=WebhookSubscriptionUpdateInputSerializer,
        responses={200: WebhookSubscriptionSerializer, **error_responses(400, 403, 404)},
    ),
    delete=extend_schema(
        summary="Delete a subscription with its deliveries",
        tags=["webhooks"],
        responses={204: None, **error_responses(403, 404)},
    ),
)
class WebhookSubscriptionDetailView(SubscriptionScopedMixin, generics.GenericAPIView):
    serializer_class = WebhookSubscriptionSerializer

    def get(self, request, pk):
        return Response(self.get_serializer(self.get_subscription()).data)

    def patch(self, request, pk):
        data = validated(WebhookSubscriptionUpdateInputSerializer, request.data)
        sub = webhooks.webhook_subscription_update(
            subscription=self.get_subscription(), actor=request.user, **data
        )
        return Response(self.get_serializer(sub).data)

    def delete(self, request, pk):
        webhooks.webhook_subscription_delete(subscription=self.get_subscription(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    summary="Rotate the signing secret",
    description="The current secret stays valid for `overlap_hours`; meanwhile deliveries carry both signatures.",
    tags=["webhooks"],
    request=RotateSecretInputSerializer,
    responses={200: WebhookSubscriptionSecretSerializer, **error_responses(400, 403, 404)},
)
class WebhookRotateSecretView(SubscriptionScopedMixin, generics.GenericAPIView):
    serializer_class = WebhookSubscriptionSecretSerializer

    def post(self, request, pk):
        data = validated(RotateSecretInputSerializer, request.data)
        sub, secret = webhooks.webhook_subscription_rotate_secret(
            subscription=self.get_subscription(), actor=request.user, overlap_hours=data.get("overlap_hours")
        )
        return _with_secret(self, sub, secret)


@extend_schema(
    summary="List a subscription's deliveries with their attempt log",
    tags=["webhooks"],
    parameters=[OpenApiParameter("state", OpenApiTypes.STR, enum=DeliveryState.values)],
    responses={200: WebhookDeliverySerializer(many=True), **error_responses(400, 404)},
)
class WebhookDeliveryListView(SubscriptionScopedMixin, generics.ListAPIView):
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        qs = selectors.webhook_delivery_list(subscription=self.get_subscription())
        state = self.request.query_params.get("state")
        if state:
            if state not in DeliveryState.values:
                raise InvalidInput(f"Use one of: {', '.join(DeliveryState.values)}.", field="state")
            qs = qs.filter(state=state)
        return qs


@extend_schema(
    summary="Replay a failed delivery (same webhook-id, fresh attempts)",
    tags=["webhooks"],
    request=None,
    responses={202: WebhookDeliverySerializer, **error_responses(403, 404, 409)},
)
class WebhookDeliveryReplayView(SubscriptionScopedMixin, generics.GenericAPIView):
    serializer_class = WebhookDeliverySerializer

    def post(self, request, pk, delivery_id):
        deliveries = selectors.webhook_delivery_list(subscription=self.get_subscription())
        delivery = deliveries.filter(pk=delivery_id).first()
        if delivery is None:
            raise NotFound(f"Subscription #{pk} has no delivery #{delivery_id}.", field="delivery_id")
        webhooks.webhook_delivery_replay(delivery=delivery, actor=request.user)
        return Response(
            self.get_serializer(deliveries.get(pk=delivery_id)).data, status=status.HTTP_202_ACCEPTED
        )
