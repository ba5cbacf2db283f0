"""Governance's promotion policy per model."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from models_app.models.registry import RegisteredModel


class PromotionPolicy(models.Model):
    """Governance's rules for promoting one model's versions to Production (evaluated in policies.py).

    ``metric_gates``: ``[{"metric": "accuracy", "op": ">=", "value": 0.92}, ...]``, all must pass.
    ``group_approvals``: ``{"Governance": 1}``, the least approvals from members of each group, on top of
    the model's ``required_approvals``. ``freeze_windows``: ``[{"start": iso, "end": iso, "reason": ""}]``,
    half-open intervals during which Production changes other than rollbacks are refused.
    ``protected_aliases``: ``["champion"]``, aliases that move only by an approved request.
    ``retention``: ``{"keep_archived": N, "archived_for_days": D}`` or ``{}``: which Archived versions'
    files ``apply_retention`` purges. Written only by ``services.promotion_policy_set``, which records every change in the ledger.
    """

    registered_model = models.OneToOneField(
        RegisteredModel, on_delete=models.PROTECT, related_name="promotion_policy"
    )
    metric_gates = models.JSONField(default=list, blank=True)
    group_approvals = models.JSONField(default=dict, blank=True)
    freeze_windows = models.JSONField(default=list, blank=True)
    protected_aliases = models.JSONField(default=list, blank=True)
    retention = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "promotion policies"

    def __str__(self) -> str:
        return f"promotion policy of {self.registered_model.name}"
