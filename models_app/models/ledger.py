"""The append-only, hash-chained audit ledger and the head row that orders appends."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from models_app.choices import LedgerKind, Stage
from models_app.exceptions import AppendOnlyViolation

# The pipeline-integration tables (events outbox, webhooks, deployments) live in their own module.
from models_app.models.querysets import LedgerQuerySet
from models_app.models.registry import ModelVersion, RegisteredModel
from models_app.models.requests import TransitionRequest


class LedgerHead(models.Model):
    """The tip of the ledger's hash chain; its row lock orders concurrent ledger appends. It also holds the
    last event sequence handed out (``Event.sequence``), advanced under the same lock and, for a ledger
    row's event, in the same statement that moves the chain's tip."""

    last_hash = models.CharField(max_length=64, default="0" * 64)
    count = models.BigIntegerField(default=0)
    last_event_sequence = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="models_app_ledgerhead_singleton")]

    def __str__(self) -> str:
        return f"ledger head after {self.count} rows"


class LedgerEntry(models.Model):
    """The append-only audit ledger: stage changes, decisions and alias moves, hash-chained.

    Rows are written only by services, in the transaction of the change they record, and are never
    updated, deleted or truncated: not by the ORM, not in the admin, and on PostgreSQL not by raw SQL
    either. Removing the newest rows and rewinding the head with the triggers switched off is caught by
    comparing the chain with the signed checkpoints of ``anchor_audit`` (``models_app.audit_anchor``).
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

    # A row as its readers get it, in this order: the API's ledger rows and the CSV exports (``model`` is
    # the model's name, ``version`` the version's number, ``actor`` the username recorded on the row).
    COLUMNS = (
        "id",
        "created_at",
        "model",
        "version",
        "kind",
        "from_stage",
        "to_stage",
        "alias",
        "actor",
        "transition_request",
        "comment",
        "details",
        "request_id",
        "prev_hash",
        "row_hash",
    )

    class Meta:
        ordering = ["-id"]
        # The table keeps the name it had when the ledger recorded stage changes only.
        db_table = "models_app_stagetransition"
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=LedgerKind.values), name="models_app_ledgerentry_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(row_hash__length=64) & Q(prev_hash__length=64),
                name="models_app_ledgerentry_hash_length",
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
            # TRUNCATE fires no row triggers; this statement trigger refuses it (CASCADE included).
            pgtrigger.Trigger(
                name="no_truncate",
                operation=pgtrigger.Truncate,
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                func="RAISE EXCEPTION 'pgtrigger: Cannot truncate the append-only % table', TG_TABLE_NAME;",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_stage}->{self.to_stage} by {self.actor_username}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyViolation()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation()
