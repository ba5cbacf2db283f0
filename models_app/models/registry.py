"""Models, their numbered versions, the versions' files and aliases."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.utils import timezone

from models_app.choices import Stage, VersionStatus

# The pipeline-integration tables (events outbox, webhooks, deployments) live in their own module.
from models_app.models.querysets import ModelVersionQuerySet

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
            # A stage needs ready files; a purged version stays where the purge found it, Archived or
            # without a stage (Production and Staging versions are never purged).
            models.CheckConstraint(
                condition=Q(stage=Stage.NONE)
                | Q(status=VersionStatus.READY)
                | Q(status=VersionStatus.PURGED, stage=Stage.ARCHIVED),
                name="models_app_modelversion_stage_needs_ready",
            ),
        ]
        indexes = [
            models.Index(fields=["registered_model", "stage"], name="models_app_version_stage"),
            # `latest`: the newest ready version of one model, read off the end of this index.
            models.Index(fields=["registered_model", "status", "-version"], name="models_app_version_latest"),
            models.Index(fields=["registered_model", "created_at"], name="models_app_version_created"),
            models.Index(fields=["created_at"], name="models_app_version_created_all"),
            models.Index(fields=["source_commit"], name="models_app_version_commit"),
            models.Index(fields=["created_by"], name="models_app_version_author"),
            models.Index(fields=["status"], name="models_app_version_status"),
        ]
        triggers = [
            # The backstop of rules.purgeable: a purge never takes a held, aliased or requested version,
            # and a purged version never changes status or stage again (raw SQL included).
            pgtrigger.Trigger(
                name="purge_guard",
                operation=pgtrigger.Update,
                when=pgtrigger.Before,
                condition=pgtrigger.Q(old__status=VersionStatus.PURGED)
                | pgtrigger.Q(new__status=VersionStatus.PURGED),
                func="""
                IF OLD.status = 'purged' THEN
                    IF NEW.status IS DISTINCT FROM OLD.status OR NEW.stage IS DISTINCT FROM OLD.stage THEN
                        RAISE EXCEPTION 'version % is purged: its status and stage never change', OLD.id
                            USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END IF;
                IF EXISTS (
                    SELECT 1 FROM models_app_legalhold h WHERE h.released_at IS NULL
                    AND (h.version_id = NEW.id
                         OR (h.version_id IS NULL AND h.registered_model_id = NEW.registered_model_id))
                ) THEN
                    RAISE EXCEPTION 'version % is under a legal hold and cannot be purged', NEW.id
                        USING ERRCODE = 'check_violation';
                END IF;
                IF EXISTS (SELECT 1 FROM models_app_modelalias a WHERE a.version_id = NEW.id) THEN
                    RAISE EXCEPTION 'version % carries an alias and cannot be purged', NEW.id
                        USING ERRCODE = 'check_violation';
                END IF;
                IF EXISTS (
                    SELECT 1 FROM models_app_transitionrequest r
                    WHERE r.version_id = NEW.id AND r.status = 'pending'
                ) THEN
                    RAISE EXCEPTION 'version % has a pending request and cannot be purged', NEW.id
                        USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registered_model.name} v{self.version}"


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
