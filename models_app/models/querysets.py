"""Custom querysets: named filters for versions, and an append-only guard for the ledger."""

from django.db import models

from models_app.choices import Stage, VersionStatus
from models_app.exceptions import AppendOnlyViolation


class ModelVersionQuerySet(models.QuerySet):
    """Version filters used by services and selectors."""

    def ready(self):
        return self.filter(status=VersionStatus.READY)

    def production(self):
        return self.filter(stage=Stage.PRODUCTION)

    def in_stage(self, stage: Stage):
        return self.filter(stage=stage)


class LedgerQuerySet(models.QuerySet):
    """Ledger rows can be appended, never updated or deleted in bulk."""

    def update(self, **kwargs):
        raise AppendOnlyViolation()

    def delete(self):
        raise AppendOnlyViolation()

    def _raw_delete(self, using):
        raise AppendOnlyViolation()

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyViolation()
