"""Direct-to-bucket uploads of a pending version's files."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from models_app.choices import UploadStatus

# The pipeline-integration tables (events outbox, webhooks, deployments) live in their own module.
from models_app.models.registry import ModelVersion


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
