"""API representations (``<Model>Serializer``) and input shapes (``<Action>InputSerializer``).

Input serializers check shape only; every rule is the services'. Unknown input fields are refused,
so a misspelt field never passes silently.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.models import Group
from django.core.exceptions import ObjectDoesNotExist
from django.utils.http import RFC3986_SUBDELIMS
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from models_app import policies
from models_app.api.deployment_fields import CurrentDeploymentsField
from models_app.api.hold_fields import HeldField, HoldField
from models_app.api.number_fields import AsciiIntegerField
from models_app.choices import RequestKind, Stage
from models_app.models import (
    ApiToken,
    Approval,
    ArtifactFile,
    LedgerEntry,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    TransitionRequest,
)

# Stand in for a model name, a version and a file's path in a reversed URL; each is then replaced by the
# value, quoted as Django's ``reverse`` quotes a URL.
_NAME_SLOT = "name-slot-3f9c2a"
_REF_SLOT = "ref-slot-3f9c2a"
_PATH_SLOT = "path-slot-3f9c2a"


def _quoted(value: str) -> str:
    return quote(value, safe=RFC3986_SUBDELIMS + "/~:@")


# ``getattr`` default: an annotation the selector did not add (null is a value: no rows).
UNREAD = object()

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


class ArtifactFileSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Where to download the bytes.")

    class Meta:
        model = ArtifactFile
        fields = ["path", "size", "sha256", "content_type", "url"]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        version = self.context.get("version") or obj.version
        return reverse(
            "api:modelversion-file",
            kwargs={
                "name": version.registered_model.name,
                "ref": str(version.version),
                "path": obj.path,
            },
            request=self.context.get("request"),
        )


class SourceSerializer(serializers.Serializer):
    repository = serializers.CharField(source="source_repository", allow_blank=True)
    commit = serializers.CharField(source="source_commit", allow_blank=True)
    branch = serializers.CharField(source="source_branch", allow_blank=True)
    dirty = serializers.BooleanField(source="source_dirty")


class DatasetSerializer(serializers.Serializer):
    uri = serializers.CharField()
    version = serializers.CharField(required=False)
    digest = serializers.CharField(required=False)
    name = serializers.CharField(required=False)


class EnvironmentSerializer(serializers.Serializer):
    python_version = serializers.CharField(required=False)
    framework = serializers.CharField(required=False)
    framework_version = serializers.CharField(required=False)
    libraries = serializers.DictField(child=serializers.CharField(), required=False)
    requirements = serializers.CharField(required=False)


class VersionRunSerializer(serializers.Serializer):
    """Where a version registered through the MLflow protocol came from."""

    run_id = serializers.CharField(allow_null=True)
    experiment_id = serializers.CharField(allow_null=True)
    experiment = serializers.CharField(allow_null=True)
    logged_model_id = serializers.CharField(allow_null=True)
    source = serializers.CharField(help_text="The source the client named, e.g. models:/m-<id>.")
    url = serializers.CharField(allow_null=True, help_text="The run, through the MLflow protocol.")


_STAMP = serializers.DateTimeField()
_DATASET_KEYS = ("uri", "version", "digest", "name")
_ENVIRONMENT_KEYS = ("python_version", "framework", "framework_version", "libraries", "requirements")


def _strings(values: dict, keys=None) -> dict:
    """``values`` with string values (nulls kept) as DRF's CharFields give them, in the order of ``keys``
    (those present; all of them, in their own order, without ``keys``); ``libraries`` is left as is."""
    keys = values.keys() if keys is None else [key for key in keys if key in values]
    return {
        str(key): values[key] if values[key] is None or key == "libraries" else str(values[key])
        for key in keys
    }


class ModelVersionSerializer(serializers.ModelSerializer):
    """A version: number, stage, status, files, aliases and its lineage metadata."""

    model = serializers.CharField(source="registered_model.name", read_only=True)
    source = SourceSerializer(source="*", read_only=True)
    datasets = DatasetSerializer(many=True, read_only=True)
    parameters = serializers.DictField(read_only=True)
    metrics = serializers.DictField(child=serializers.FloatField(), read_only=True)
    environment = EnvironmentSerializer(read_only=True)
    signature = serializers.JSONField(read_only=True, allow_null=True)
    tags = serializers.DictField(child=serializers.CharField(), read_only=True)
    parent_version = AsciiIntegerField(source="parent.version", read_only=True, allow_null=True)
    run = serializers.SerializerMethodField(
        help_text="The tracked run (MLflow protocol) the version was registered from, or null."
    )
    files = serializers.SerializerMethodField()
    aliases = serializers.SerializerMethodField(help_text="Names of the aliases pointing at this version.")
    deployments = CurrentDeploymentsField()
    held = HeldField()
    hold = HoldField()
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "version",
            "stage",
            "status",
            "status_reason",
            "held",
            "hold",
            "files",
            "aliases",
            "deployments",
            "description",
            "tags",
            "source",
            "datasets",
            "parameters",
            "metrics",
            "environment",
            "signature",
            "run_url",
            "run",
            "parent_version",
            "created_by",
            "created_at",
            "url",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        if getattr(instance, "file_rows", UNREAD) is UNREAD:
            return super().to_representation(instance)
        return self._row_representation(instance)

    def _row_representation(self, obj) -> dict:
        """The fields above, written out for a version read by ``selectors.version_rows``: binding DRF's
        fields to each serializer costs more than the rest of a version read. The declared fields stay
        the contract (the schema is built from them) and tests/api/test_version_representation.py checks
        that this gives exactly what they give."""
        declared = self._declared_fields
        environment = obj.environment
        if environment is not None:
            environment = _strings(environment, _ENVIRONMENT_KEYS)
            if environment.get("libraries") is not None:
                environment["libraries"] = _strings(environment["libraries"])
        return {
            "model": obj.registered_model.name,
            "version": obj.version,
            "stage": str(obj.stage),
            "status": str(obj.status),
            "status_reason": obj.status_reason,
            "held": obj.hold_row is not None,
            "hold": declared["hold"].to_representation(obj),
            "files": self.get_files(obj),
            "aliases": self.get_aliases(obj),
            "deployments": declared["deployments"].to_representation(obj),
            "description": obj.description,
            "tags": _strings(obj.tags),
            "source": {
                "repository": obj.source_repository,
                "commit": obj.source_commit,
                "branch": obj.source_branch,
                "dirty": bool(obj.source_dirty),
            },
            "datasets": [_strings(row, _DATASET_KEYS) for row in obj.datasets],
            "parameters": {str(k): v for k, v in obj.parameters.items()},
            "metrics": {str(k): None if v is None else float(v) for k, v in obj.metrics.items()},
            "environment": environment,
            "signature": obj.signature,
            "run_url": obj.run_url,
            "run": self.get_run(obj),
            "parent_version": obj.parent.version if obj.parent_id else None,
            "created_by": obj.created_by.username,
            "created_at": _STAMP.to_representation(obj.created_at),
            "url": self.get_url(obj),
        }

    @extend_schema_field(ArtifactFileSerializer(many=True))
    def get_files(self, obj):
        if getattr(obj, "file_rows", UNREAD) is UNREAD:
            context = {**self.context, "version": obj}
            return ArtifactFileSerializer(obj.files.all(), many=True, context=context).data
        # Read as JSON by selectors.version_rows: the URL is reversed once per serializer, not per file.
        template = self._url("api:modelversion-file", name=obj.registered_model.name, ref=obj.version)
        return [
            {
                "path": row["path"],
                "size": row["size"],
                "sha256": row["sha256"],
                "content_type": row["content_type"],
                "url": template.replace(_PATH_SLOT, _quoted(row["path"])),
            }
            for row in sorted(obj.file_rows or (), key=lambda row: row["path"])
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_aliases(self, obj) -> list[str]:
        if getattr(obj, "alias_names", UNREAD) is not UNREAD:
            return sorted(obj.alias_names or ())
        return [alias.name for alias in obj.aliases.all()]

    @extend_schema_field(VersionRunSerializer(allow_null=True))
    def get_run(self, obj) -> dict | None:
        try:
            origin = obj.origin
        except ObjectDoesNotExist:
            return None
        run = origin.run
        url = (
            reverse("mlflow:runs-get", request=self.context.get("request")) + f"?run_id={run.pk}"
            if run
            else None
        )
        return {
            "run_id": run.pk if run else None,
            "experiment_id": str(run.experiment_id) if run else None,
            "experiment": run.experiment.name if run else None,
            "logged_model_id": origin.logged_model_id,
            "source": origin.source,
            "url": url,
        }

    def get_url(self, obj) -> str:
        return self._url("api:modelversion-detail", name=obj.registered_model.name, ref=obj.version)

    def _url(self, viewname: str, *, name: str, ref) -> str:
        """``reverse(viewname)`` for this model and version. The URL is reversed once per serializer with
        stand-ins, which are then replaced, quoted as ``reverse`` quotes (a page of 50 versions would
        otherwise reverse 100 URLs)."""
        templates = self.__dict__.setdefault("_url_templates", {})
        if viewname not in templates:
            kwargs = {"name": _NAME_SLOT, "ref": _REF_SLOT}
            if viewname == "api:modelversion-file":
                kwargs["path"] = _PATH_SLOT
            templates[viewname] = reverse(viewname, kwargs=kwargs, request=self.context.get("request"))
        return templates[viewname].replace(_NAME_SLOT, _quoted(name)).replace(_REF_SLOT, _quoted(str(ref)))


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
