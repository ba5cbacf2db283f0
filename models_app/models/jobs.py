"""Periodic jobs of ``make serve`` (retention, ledger anchoring): when each last ran, for every instance."""

from __future__ import annotations

from django.db import models


class PeriodicJob(models.Model):
    """One row per periodic job. Its row lock elects the instance that runs the job for a period: every
    instance's scheduler asks, and only the first one to find the period elapsed claims it."""

    name = models.CharField(max_length=50, unique=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True, blank=True)
    last_message = models.TextField(blank=True)
    last_runner = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
