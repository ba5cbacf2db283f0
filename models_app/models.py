"""The registry's tables. Rules live in services.py; the constraints here are the database's backstop."""

from __future__ import annotations

import uuid

import pgtrigger
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.utils import timezone

from models_app.choices import Decision, LedgerKind, RequestStatus, Stage, UploadStatus, VersionStatus
from models_app.exceptions import AppendOnlyViolation
from models_app.querysets import LedgerQuerySet, ModelVersionQuerySet

# Lets constraints say ``sha256__length=64``.
models.CharField.register_lookup(Length)

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}\Z"
name_validator = RegexValidator(
    NAME_PATTERN,
    "Use 1-100 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit.",
    code="invalid_name",
)
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,62}\Z"
alias_validator = RegexValidator(
    ALIAS_PATTERN,
    "Use 1-63 lowercase letters, digits, '-' or '_', starting with a letter.",
    code="invalid_alias",
)


class RegisteredModel(models.Model):
    """A named model owned by a team; the container of its numbered versions."""

    name = models.CharField(max_length=100, unique=True, validators=[name_validator])
    description = models.TextField(blank=True, help_text="Markdown.")
    tags = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="registered_models")
    required_approvals = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    # The last number handed out; incremented under the model's row lock so numbers never repeat or skip.
    last_version_number = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(required_approvals__gte=1) & Q(required_approvals__lte=10),
                name="models_app_registeredmodel_required_approvals_range",
            ),
            models.CheckConstraint(
                condition=Q(name__regex=r"^[a-z0-9][a-z0-9._-]{0,99}$"),
                name="models_app_registeredmodel_name_format",
            ),
        ]
        indexes = [
            models.Index(fields=["updated_at"], name="models_app_regmodel_updated"),
            models.Index(fields=["team"], name="models_app_regmodel_team"),
        ]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One numbered, immutable artifact set of a RegisteredModel with the lineage that produced it.

    Only ``stage`` (and description/tags) change after a version is ready, and only through services.
    """

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(editable=False)
    status = models.CharField(
        max_length=16, choices=VersionStatus, default=VersionStatus.PENDING, editable=False
    )
    status_reason = models.TextField(blank=True, editable=False)
    stage = models.CharField(max_length=16, choices=Stage, default=Stage.NONE, editable=False)

    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # Source code that produced the artifact.
    source_repository = models.CharField(max_length=500, blank=True)
    source_commit = models.CharField(max_length=64, blank=True)
    source_branch = models.CharField(max_length=255, blank=True)
    source_dirty = models.BooleanField(default=False)
    datasets = models.JSONField(default=list, blank=True, help_text="List of {uri, version, digest}.")
    parameters = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Metric name -> number.")
    environment = models.JSONField(
        default=dict, blank=True, help_text="python_version, framework, libraries, requirements."
    )
    signature = models.JSONField(null=True, blank=True, help_text="Input/output signature.")
    run_url = models.URLField(max_length=500, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, editable=False)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["registered_model_id", "-version"]
        permissions = [
            ("publish_modelversion", "Can register versions and request promotion for own team's models"),
            ("rollback_modelversion", "Can archive versions and roll back Production"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "version"], name="models_app_modelversion_unique_number"
            ),
            models.UniqueConstraint(
                fields=["registered_model"],
                condition=Q(stage=Stage.PRODUCTION),
                name="models_app_modelversion_one_production",
            ),
            models.UniqueConstraint(
                fields=["registered_model", "created_by", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="models_app_modelversion_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="models_app_modelversion_number_positive"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="models_app_modelversion_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values), name="models_app_modelversion_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(stage=Stage.NONE) | Q(status=VersionStatus.READY),
                name="models_app_modelversion_stage_needs_ready",
            ),
        ]
        indexes = [
            models.Index(fields=["registered_model", "stage"], name="models_app_version_stage"),
            models.Index(fields=["registered_model", "created_at"], name="models_app_version_created"),
            models.Index(fields=["created_at"], name="models_app_version_created_all"),
            models.Index(fields=["source_commit"], name="models_app_version_commit"),
            models.Index(fields=["created_by"], name="models_app_version_author"),
            models.Index(fields=["status"], name="models_app_version_status"),
        ]

    def __str__(self) -> str:
        return f"{self.registered_model.name} v{self.version}"

    @property
    def is_ready(self) -> bool:
        return self.status == VersionStatus.READY


class ArtifactFile(models.Model):
    """One stored file of a version. ``path`` is the client's label; ``storage_key`` is the server's name."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="files")
    path = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    storage_key = models.CharField(max_length=512, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["version_id", "path"]
        constraints = [
            models.UniqueConstraint(fields=["version", "path"], name="models_app_artifactfile_unique_path"),
            models.CheckConstraint(condition=Q(size__gte=0), name="models_app_artifactfile_size_nonnegative"),
            models.CheckConstraint(
                condition=Q(sha256__length=64), name="models_app_artifactfile_sha256_length"
            ),
        ]

    def __str__(self) -> str:
        return self.path


class TransitionRequest(models.Model):
    """A request to move a version to a stage that needs approval (Production)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="transition_requests")
    target_stage = models.CharField(max_length=16, choices=Stage)
    status = models.CharField(
        max_length=16, choices=RequestStatus, default=RequestStatus.PENDING, editable=False
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("decide_transitionrequest", "Can approve or reject transition requests")]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "target_stage"],
                condition=Q(status=RequestStatus.PENDING),
                name="models_app_transitionrequest_one_pending",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RequestStatus.values), name="models_app_transitionrequest_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="models_app_request_status"),
            models.Index(fields=["requested_by"], name="models_app_request_requester"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.version} -> {self.target_stage} ({self.status})"


class Approval(models.Model):
    """One reviewer's decision on a transition request (approve or reject)."""

    transition_request = models.ForeignKey(
        TransitionRequest, on_delete=models.PROTECT, related_name="approvals"
    )
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Copied from the request so the database itself can refuse a self-approval.
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=16, choices=Decision)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transition_request", "reviewer"], name="models_app_approval_one_per_reviewer"
            ),
            models.CheckConstraint(
                condition=~Q(reviewer=F("requester")), name="models_app_approval_no_self_approval"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.decision} #{self.transition_request_id}"


class ModelAlias(models.Model):
    """A named pointer (``@champion``) from a model to one of its ready versions."""

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="aliases")
    name = models.CharField(max_length=63, validators=[alias_validator])
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["registered_model_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "name"], name="models_app_modelalias_unique_name"
            ),
        ]
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return f"{self.registered_model.name}@{self.name}"


class LedgerHead(models.Model):
    """The tip of the ledger's hash chain; its row lock orders concurrent ledger appends."""

    last_hash = models.CharField(max_length=64, default="0" * 64)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="models_app_ledgerhead_singleton")]

    def __str__(self) -> str:
        return f"ledger head after {self.count} rows"


class StageTransition(models.Model):
    """The append-only audit ledger: stage changes, decisions and alias moves, hash-chained.

    Rows are written only by services, in the transaction of the change they record, and are never
    updated or deleted: not by the ORM, not in the admin, and on PostgreSQL not by raw SQL either.
    """

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="ledger")
    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="transitions"
    )
    kind = models.CharField(max_length=16, choices=LedgerKind)
    from_stage = models.CharField(max_length=16, choices=Stage, blank=True)
    to_stage = models.CharField(max_length=16, choices=Stage, blank=True)
    alias = models.CharField(max_length=63, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Kept as text so the row reads right even if the user is renamed later.
    actor_username = models.CharField(max_length=150)
    transition_request = models.ForeignKey(
        TransitionRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_rows"
    )
    comment = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, unique=True, editable=False)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=LedgerKind.values), name="models_app_stagetransition_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(row_hash__length=64) & Q(prev_hash__length=64),
                name="models_app_stagetransition_hash_length",
            ),
        ]
        indexes = [
            models.Index(fields=["registered_model", "created_at"], name="models_app_ledger_model_time"),
            models.Index(fields=["version", "id"], name="models_app_ledger_version"),
            models.Index(fields=["created_at"], name="models_app_ledger_time"),
            models.Index(fields=["actor_username"], name="models_app_ledger_actor"),
            models.Index(fields=["kind"], name="models_app_ledger_kind"),
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_stage}->{self.to_stage} by {self.actor_username}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyViolation()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation()


class PromotionPolicy(models.Model):
    """Governance's rules for promoting one model's versions to Production (evaluated in policies.py).

    ``metric_gates``: ``[{"metric": "accuracy", "op": ">=", "value": 0.92}, ...]``, all must pass.
    ``group_approvals``: ``{"Governance": 1}``, the least approvals from members of each group, on top of
    the model's ``required_approvals``. ``freeze_windows``: ``[{"start": iso, "end": iso, "reason": ""}]``,
    half-open intervals during which Production changes other than rollbacks are refused.
    Written only by ``services.promotion_policy_set``, which records every change in the ledger.
    """

    registered_model = models.OneToOneField(
        RegisteredModel, on_delete=models.PROTECT, related_name="promotion_policy"
    )
    metric_gates = models.JSONField(default=list, blank=True)
    group_approvals = models.JSONField(default=dict, blank=True)
    freeze_windows = models.JSONField(default=list, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "promotion policies"

    def __str__(self) -> str:
        return f"promotion policy of {self.registered_model.name}"


class ApiToken(models.Model):
    """A named bearer token for a person or a service account; only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=12, editable=False, help_text="First characters, to recognise a token."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["user_id", "name"]
        verbose_name = "API token"
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="models_app_apitoken_unique_name_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class UploadSession(models.Model):
    """A direct-to-bucket upload of a pending version's files (S3 multipart uploads, one per file).

    The version keeps its number whatever happens; it becomes ready only when every file was completed
    and verified, and failed when the upload is refused, aborted or abandoned.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="upload_session")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=UploadStatus, default=UploadStatus.OPEN, editable=False)
    part_size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=UploadStatus.values), name="models_app_uploadsession_status_valid"
            ),
            models.CheckConstraint(condition=Q(part_size__gt=0), name="models_app_uploadsession_part_size"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="models_app_upload_status")]

    def __str__(self) -> str:
        return f"upload {self.pk} ({self.status})"


class UploadFile(models.Model):
    """One file of an upload session: what the client declared and where its multipart upload goes."""

    session = models.ForeignKey(UploadSession, on_delete=models.PROTECT, related_name="files")
    path = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    storage_key = models.CharField(max_length=512, unique=True, editable=False)
    upload_id = models.CharField(max_length=1024, editable=False)
    part_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["session_id", "path"]
        constraints = [
            models.UniqueConstraint(fields=["session", "path"], name="models_app_uploadfile_unique_path"),
            models.CheckConstraint(condition=Q(size__gte=0), name="models_app_uploadfile_size_nonnegative"),
            models.CheckConstraint(
                condition=Q(sha256__length=64), name="models_app_uploadfile_sha256_length"
            ),
        ]

    def __str__(self) -> str:
        return self.path


# The pipeline-integration tables (events outbox, webhooks, deployments) live in their own module.
from models_app.event_models import (  # noqa: E402, F401
    Deployment,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
