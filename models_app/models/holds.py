"""Legal holds: while one is active on a version (or on its whole model), the version's files stay."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from models_app.models.registry import ModelVersion, RegisteredModel


class LegalHoldQuerySet(models.QuerySet):
    def active(self):
        return self.filter(released_at__isnull=True)

    def covering(self, version: ModelVersion):
        """Active holds that keep ``version``: its own, and its model's."""
        return self.active().filter(
            Q(version_id=version.pk)
            | Q(version__isnull=True, registered_model_id=version.registered_model_id)
        )


class LegalHold(models.Model):
    """A legal hold placed by Governance on one version (``version`` set) or on a whole model (``version``
    null). While it is active (``released_at`` null) nothing purges the files it covers; a model hold covers
    every version of the model, including versions registered after it was placed.

    Written only by ``services.version_hold``, ``services.model_hold`` and ``services.hold_release``, each
    with a ledger row. A released hold stays as the record of who held what, when and why.
    """

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="holds")
    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="holds"
    )
    reason = models.TextField()
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField(default=timezone.now)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)
    # Whether the hold was also placed on the stored objects (S3 Object Lock legal holds).
    object_lock = models.BooleanField(default=False)

    objects = LegalHoldQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(released_at__isnull=True, version__isnull=False),
                name="models_app_legalhold_one_active_per_version",
            ),
            models.UniqueConstraint(
                fields=["registered_model"],
                condition=Q(released_at__isnull=True, version__isnull=True),
                name="models_app_legalhold_one_active_per_model",
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True, released_by__isnull=True)
                | Q(released_at__isnull=False, released_by__isnull=False),
                name="models_app_legalhold_release_complete",
            ),
        ]
        indexes = [models.Index(fields=["registered_model", "released_at"], name="models_app_hold_model")]

    def __str__(self) -> str:
        target = f"v{self.version.version}" if self.version_id else "all versions"
        state = "released" if self.released_at else "active"
        return f"hold on {self.registered_model.name} {target} ({state})"

    @property
    def scope(self) -> str:
        """``version`` or ``model``."""
        return "version" if self.version_id else "model"
