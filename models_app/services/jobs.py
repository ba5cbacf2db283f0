"""Periodic jobs (``manage.py run_periodic``, started by ``make serve``): one instance runs each per period."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from models_app.models import PeriodicJob


def _locked(name: str) -> PeriodicJob:
    job = PeriodicJob.objects.select_for_update().filter(name=name).first()
    if job is None:
        # The first run anywhere creates the row; a concurrent creator's insert loses to the unique name.
        try:
            with transaction.atomic():
                PeriodicJob.objects.create(name=name)
        except IntegrityError:
            pass
        job = PeriodicJob.objects.select_for_update().get(name=name)
    return job


def periodic_job_claim(*, name: str, every_seconds: float, runner: str, now=None) -> bool:
    """Claim this period's run of job ``name`` for ``runner``: True when the last run started at least
    ``every_seconds`` ago (or never), and no other instance claimed it first. The job row's lock decides
    between instances."""
    now = now or timezone.now()
    with transaction.atomic():
        job = _locked(name)
        if job.last_started_at is not None and job.last_started_at > now - timedelta(seconds=every_seconds):
            return False
        job.last_started_at, job.last_runner = now, runner[:255]
        job.save(update_fields=["last_started_at", "last_runner"])
    return True


def periodic_job_finish(*, name: str, ok: bool, message: str = "", now=None) -> None:
    """Record how the claimed run of job ``name`` ended."""
    with transaction.atomic():
        job = _locked(name)
        job.last_finished_at, job.last_ok, job.last_message = now or timezone.now(), ok, message[:10_000]
        job.save(update_fields=["last_finished_at", "last_ok", "last_message"])
