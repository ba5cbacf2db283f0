"""API representations (``<Model>Serializer``) and input shapes (``<Action>InputSerializer``).

Input serializers check shape only; every rule is the services'. Unknown input fields are refused,
so a misspelt field never passes silently.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from models_app import policies
from models_app.api.deployment_fields import CurrentDeploymentsField
from models_app.api.hold_fields import HoldField
from models_app.api.number_fields import AsciiIntegerField
from models_app.api.version_representation import (  # noqa: F401 - the API's serializers, in one namespace
    ArtifactFileSerializer,
    DatasetSerializer,
    EnvironmentSerializer,
    ModelVersionSerializer,
    SourceSerializer,
    VersionRunSerializer,
)
from models_app.choices import RequestKind, Stage
from models_app.models import (
    ApiToken,
    Approval,
    LedgerEntry,
    ModelAlias,
    RegisteredModel,
    TransitionRequest,
)

TAGS_HELP = 'Key/value strings, e.g. {"task": "fraud"}.'


class StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}, code="unknown_field"
                )
        return super().to_internal_value(data)


def _tags_field(**kwargs):
    return serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=500), help_text=TAGS_HELP, **kwargs
    )


# -- models -----------------------------------------------------------------------------------------


class MetricGateSerializer(serializers.Serializer):
    metric = serializers.CharField()
    op = serializers.ChoiceField(choices=list(policies.OPERATORS))
    value = serializers.FloatField()


class FreezeWindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    reason = serializers.CharField(allow_blank=True)


class RetentionSerializer(serializers.Serializer):
    keep_archived = AsciiIntegerField(required=False)
    archived_for_days = AsciiIntegerField(required=False)


class PromotionPolicySerializer(serializers.Serializer):
    """What a version needs to enter Production: approvals, approvals by group, metric gates, freezes."""

    required_approvals = AsciiIntegerField()
    group_approvals = serializers.DictField(
        child=AsciiIntegerField(), help_text="Group name -> least approvals from its members."
    )
    metric_gates = MetricGateSerializer(many=True)
    freeze_windows = FreezeWindowSerializer(many=True)
    protected_aliases = serializers.ListField(
        child=serializers.CharField(), help_text="Aliases moved only by an approved request."
    )
    retention = RetentionSerializer(help_text="Empty: no retention.")
    rules = serializers.ListField(child=serializers.CharField(), help_text="The rules as sentences.")


class PolicyInputSerializer(StrictInputSerializer):
    """``PUT /models/{name}/policy/``: the fields given replace the model's; those left out keep theirs.
    Shapes are checked by the policy service, which names the offending field."""

    required_approvals = serializers.JSONField(required=False, help_text="1-10 distinct reviewers.")
    metric_gates = serializers.JSONField(
        required=False, help_text='[{"metric": "auc", "op": ">=", "value": 0.9}]'
    )
    group_approvals = serializers.JSONField(required=False, help_text='{"Governance": 1}')
    freeze_windows = serializers.JSONField(
        required=False, help_text='[{"start": "...Z", "end": "...Z", "reason": "..."}]'
    )
    protected_aliases = serializers.JSONField(required=False, help_text='["champion"]')
    retention = serializers.JSONField(
        required=False, help_text='{"keep_archived": 3, "archived_for_days": 30}, or {} for none.'
    )
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="Recorded in the ledger.",
    )


def promotion_policy_data(registered_model) -> dict:
    """The model's effective policy; the policy row comes joined by the selectors."""
    try:
        record = registered_model.promotion_policy
    except ObjectDoesNotExist:
        record = None
    policy = policies.policy_from_record(registered_model, record)
    return {**policy.as_dict(), "rules": policy.describe()}


class RegisteredModelSerializer(serializers.ModelSerializer):
    """A model with its team (by group name), current Production version and aliases."""

    team = serializers.CharField(source="team.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    tags = serializers.DictField(child=serializers.CharField(), read_only=True)
    latest_version = AsciiIntegerField(read_only=True, allow_null=True)
    production_version = AsciiIntegerField(read_only=True, allow_null=True)
    aliases = serializers.SerializerMethodField(help_text="Alias name -> version number.")
    deployments = CurrentDeploymentsField()
    promotion_policy = serializers.SerializerMethodField()
    hold = HoldField(help_text="The active legal hold on the whole model (all its versions), or null.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "name",
            "description",
            "tags",
            "team",
            "required_approvals",
            "latest_version",
            "production_version",
            "aliases",
            "deployments",
            "promotion_policy",
            "hold",
            "created_by",
            "created_at",
            "updated_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
    def get_aliases(self, obj) -> dict:
        return {alias.name: alias.version.version for alias in obj.aliases.all()}

    @extend_schema_field(PromotionPolicySerializer)
    def get_promotion_policy(self, obj) -> dict:
        return promotion_policy_data(obj)

    def get_url(self, obj) -> str:
        return reverse("api:model-detail", kwargs={"name": obj.name}, request=self.context.get("request"))


class RegisteredModelCreateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    tags = _tags_field(required=False)
    team = serializers.SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), help_text="The owning team's group name."
    )
    required_approvals = AsciiIntegerField(required=False, default=1, min_value=1, max_value=10)


class RegisteredModelUpdateInputSerializer(StrictInputSerializer):
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    tags = _tags_field(required=False)
    team = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Group.objects.all(),
        required=False,
        help_text="The owning team's group name (Governance only).",
    )
    required_approvals = AsciiIntegerField(
        required=False, min_value=1, max_value=10, help_text="Governance only."
    )


# -- versions ---------------------------------------------------------------------------------------
# How a version is shown (ModelVersionSerializer and its parts): api/version_representation.py.


class VersionRegisterInputSerializer(serializers.Serializer):
    """Documents the multipart body; the view reads the parts itself."""

    file = serializers.ListField(
        child=serializers.FileField(),
        help_text="One or more file parts; each part's filename is its relative path in the version "
        "(`weights/model.bin`).",
    )
    metadata = serializers.CharField(
        required=False,
        help_text="JSON object: source {repository, commit, branch, dirty}, datasets [{uri, version, "
        "digest}], parameters, metrics, environment, signature, description, tags, run_url, "
        'parent_version, and optionally files {"<path>": {"sha256": "..."}}.',
    )


class VersionUpdateInputSerializer(StrictInputSerializer):
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    tags = _tags_field(required=False)


class TransitionInputSerializer(StrictInputSerializer):
    to = serializers.ChoiceField(choices=Stage.choices, help_text="Target stage.")
    comment = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)


class ReasonInputSerializer(StrictInputSerializer):
    """Purge, hold and release: the reason is required and recorded in the ledger."""

    reason = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Required.")


class RollbackInputSerializer(StrictInputSerializer):
    version = AsciiIntegerField(min_value=1, help_text="The version to return to Production.")
    reason = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Required.")


# -- transition requests ------------------------------------------------------------------------------


class ApprovalSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = Approval
        fields = ["reviewer", "decision", "comment", "created_at"]
        read_only_fields = fields


class TransitionRequestSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.registered_model.name", read_only=True)
    version = AsciiIntegerField(source="version.version", read_only=True)
    version_stage = serializers.ChoiceField(source="version.stage", choices=Stage.choices, read_only=True)
    to = serializers.CharField(
        source="target",
        read_only=True,
        help_text="`production` (a promotion), `archived` (the Production version's retirement) or "
        "`@alias` (a protected alias pointed at the version).",
    )
    kind = serializers.ChoiceField(choices=RequestKind.choices, read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    required_approvals = AsciiIntegerField(
        source="version.registered_model.required_approvals", read_only=True
    )
    approvals = ApprovalSerializer(many=True, read_only=True)
    promotion_policy = serializers.SerializerMethodField()

    class Meta:
        model = TransitionRequest
        fields = [
            "id",
            "model",
            "version",
            "version_stage",
            "to",
            "kind",
            "status",
            "requested_by",
            "comment",
            "required_approvals",
            "approvals",
            "promotion_policy",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PromotionPolicySerializer)
    def get_promotion_policy(self, obj) -> dict:
        return promotion_policy_data(obj.version.registered_model)


class TransitionRequestCreateInputSerializer(StrictInputSerializer):
    model = serializers.CharField(max_length=100, help_text="Model name.")
    version = AsciiIntegerField(min_value=1, help_text="Version number.")
    to = serializers.CharField(
        default=Stage.PRODUCTION,
        max_length=64,
        help_text="`production`: promote the version (from Staging). `archived`: retire the Production "
        "version (a reason in `comment` is required). `@alias`: point a protected alias at the version.",
    )
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="Why; required for a retirement.",
    )


class DecisionInputSerializer(StrictInputSerializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)


# -- aliases ----------------------------------------------------------------------------------------


class ModelAliasSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="registered_model.name", read_only=True)
    alias = serializers.CharField(source="name", read_only=True)
    version = AsciiIntegerField(source="version.version", read_only=True)
    updated_by = serializers.CharField(source="updated_by.username", read_only=True)

    class Meta:
        model = ModelAlias
        fields = ["model", "alias", "version", "updated_by", "updated_at"]
        read_only_fields = fields


class AliasSetInputSerializer(StrictInputSerializer):
    version = AsciiIntegerField(min_value=1)
    expected_version = AsciiIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Compare-and-set: the version the alias must point at now (null: must not exist). "
        "Omit to set unconditionally.",
    )


class AliasDeleteInputSerializer(StrictInputSerializer):
    expected_version = AsciiIntegerField(
        required=False, allow_null=True, min_value=1, help_text="Compare-and-set, as for PUT."
    )


# -- audit ------------------------------------------------------------------------------------------


class LedgerEntrySerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="registered_model.name", read_only=True)
    version = AsciiIntegerField(source="version.version", read_only=True, allow_null=True)
    actor = serializers.CharField(source="actor_username", read_only=True)
    transition_request = AsciiIntegerField(source="transition_request_id", read_only=True, allow_null=True)
    details = serializers.DictField(read_only=True)
    # Blank on rows that are not stage changes; declared so the schema says so.
    from_stage = serializers.ChoiceField(choices=Stage.choices, allow_blank=True, read_only=True)
    to_stage = serializers.ChoiceField(choices=Stage.choices, allow_blank=True, read_only=True)

    class Meta:
        model = LedgerEntry
        fields = list(LedgerEntry.COLUMNS)
        read_only_fields = fields


class HistoryStagesSerializer(serializers.Serializer):
    production = serializers.ListField(child=AsciiIntegerField())
    staging = serializers.ListField(child=AsciiIntegerField())
    archived = serializers.ListField(child=AsciiIntegerField())
    none = serializers.ListField(child=AsciiIntegerField())


class HistorySerializer(serializers.Serializer):
    """Which versions held each stage and alias at ``at``, replayed from the ledger."""

    model = serializers.CharField()
    at = serializers.DateTimeField()
    stages = HistoryStagesSerializer()
    aliases = serializers.DictField(child=AsciiIntegerField(), help_text="Alias -> version.")
    production_entry = LedgerEntrySerializer(
        allow_null=True, help_text="The ledger row that put the Production version there."
    )
    production_request = LedgerEntrySerializer(
        allow_null=True, help_text="The ledger row that requested it (requester, comment, gate evidence)."
    )
    production_approvals = LedgerEntrySerializer(many=True)
    policy = serializers.JSONField(allow_null=True, help_text="The promotion policy in force at that moment.")


# -- tokens -----------------------------------------------------------------------------------------


class ApiTokenSerializer(serializers.ModelSerializer):
    usable = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at", "usable"]
        read_only_fields = fields

    def get_usable(self, obj) -> bool:
        return obj.is_usable()


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The plaintext token; shown only this once.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class ApiTokenCreateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = AsciiIntegerField(required=False, allow_null=True, min_value=1, max_value=3650)


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
