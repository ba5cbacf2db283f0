"""Experiment tracking as the MLflow protocol knows it: experiments, runs, logged models and their files.

These are drafts, not registry state: nothing here is governed, staged or audited until a logged model is
registered as a version, which copies its files into the version (``services.tracking``) and links the
version to the run in ``VersionOrigin``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.utils import timezone

from models_app.choices import LoggedModelStatus, RunStatus
from models_app.models.registry import ModelVersion

models.CharField.register_lookup(Length)


class Experiment(models.Model):
    """A named folder of runs and logged models. Id 0 is the ``Default`` experiment the client falls back on."""

    name = models.CharField(max_length=500, unique=True)
    tags = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(name__length__gte=1), name="models_app_experiment_name_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """One training run: its parameters, tags, dataset inputs and model outputs (metrics are rows of their
    own, since each key has a history). ``start_time``/``end_time`` are the client's epoch milliseconds."""

    id = models.CharField(primary_key=True, max_length=32, editable=False)
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="runs")
    name = models.CharField(max_length=250, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus, default=RunStatus.RUNNING)
    start_time = models.BigIntegerField(null=True, blank=True)
    end_time = models.BigIntegerField(null=True, blank=True)
    # What the client says about its user (``mlflow.user``); who acted is ``created_by``.
    user_id = models.CharField(max_length=256, blank=True)
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=list, blank=True, help_text="Dataset inputs as the client logged them.")
    outputs = models.JSONField(default=list, blank=True, help_text="[{model_id, step}] logged by the run.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["experiment_id", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="models_app_run_status_valid"
            ),
            models.CheckConstraint(condition=Q(id__regex=r"^[0-9a-f]{32}$"), name="models_app_run_id_format"),
        ]
        indexes = [models.Index(fields=["experiment", "created_at"], name="models_app_run_experiment")]

    def __str__(self) -> str:
        return self.id


class RunMetric(models.Model):
    """One logged value of a run's metric. NaN is kept as ``is_nan`` (SQLite stores NaN as NULL)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metrics")
    key = models.CharField(max_length=250)
    value = models.FloatField()
    is_nan = models.BooleanField(default=False)
    timestamp = models.BigIntegerField(help_text="Epoch milliseconds, as logged.")
    step = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["run_id", "key", "step", "timestamp", "id"]
        indexes = [
            models.Index(fields=["run", "key", "step", "timestamp"], name="models_app_runmetric_history")
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class LoggedModel(models.Model):
    """A model logged by a run (MLflow 3's LoggedModel): a draft set of files a version can be registered
    from. The id (``m-<32 hex>``) is server-generated; the client recognises ``models:/m-...`` by it."""

    id = models.CharField(primary_key=True, max_length=34, editable=False)
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="logged_models")
    run = models.ForeignKey(
        Run, on_delete=models.PROTECT, null=True, blank=True, related_name="logged_models"
    )
    name = models.CharField(max_length=500)
    model_type = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=32, choices=LoggedModelStatus, default=LoggedModelStatus.PENDING)
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["experiment_id", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=LoggedModelStatus.values), name="models_app_loggedmodel_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(id__regex=r"^m-[0-9a-f]{32}$"), name="models_app_loggedmodel_id_format"
            ),
        ]
        indexes = [models.Index(fields=["experiment", "name"], name="models_app_loggedmodel_name")]

    def __str__(self) -> str:
        return self.id


class DraftArtifact(models.Model):
    """One uploaded file of a run or of a logged model. ``path`` is the client's label below the owner's
    artifact root; ``storage_key`` is the server's name for the bytes (``artifacts/drafts/<uuid>``)."""

    run = models.ForeignKey(Run, on_delete=models.PROTECT, null=True, blank=True, related_name="artifacts")
    logged_model = models.ForeignKey(
        LoggedModel, on_delete=models.PROTECT, null=True, blank=True, related_name="artifacts"
    )
    path = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    storage_key = models.CharField(max_length=512, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=Q(run__isnull=False, logged_model__isnull=True)
                | Q(run__isnull=True, logged_model__isnull=False),
                name="models_app_draftartifact_one_owner",
            ),
            models.UniqueConstraint(
                fields=["run", "path"],
                condition=Q(run__isnull=False),
                name="models_app_draftartifact_run_path",
            ),
            models.UniqueConstraint(
                fields=["logged_model", "path"],
                condition=Q(logged_model__isnull=False),
                name="models_app_draftartifact_model_path",
            ),
            models.CheckConstraint(
                condition=Q(size__gte=0), name="models_app_draftartifact_size_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(sha256__length=64), name="models_app_draftartifact_sha256_length"
            ),
        ]

    def __str__(self) -> str:
        return self.path


class VersionOrigin(models.Model):
    """Where a version registered through the MLflow protocol came from: the run (its lineage), the logged
    model whose files were copied, and the ``source`` URI the client named. Written with the version."""

    version = models.OneToOneField(
        ModelVersion, on_delete=models.PROTECT, primary_key=True, related_name="origin"
    )
    run = models.ForeignKey(Run, on_delete=models.PROTECT, null=True, blank=True, related_name="versions")
    logged_model = models.ForeignKey(
        LoggedModel, on_delete=models.PROTECT, null=True, blank=True, related_name="versions"
    )
    source = models.CharField(max_length=1000, blank=True)

    class Meta:
        indexes = [models.Index(fields=["run"], name="models_app_versionorigin_run")]

    def __str__(self) -> str:
        return f"{self.version} from {self.source}"
