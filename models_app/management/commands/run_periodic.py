"""``python manage.py run_periodic [--once]``: the periodic jobs ``make serve`` runs beside gunicorn.

- ``retention`` every REGISTRY_RETENTION_SECONDS (a day): ``apply_retention``;
- ``audit_anchor`` every REGISTRY_AUDIT_ANCHOR_SECONDS (300 s): ``anchor_audit``, when
  REGISTRY_AUDIT_ANCHOR_KEY is set.

Every instance runs this scheduler; the job's row (``PeriodicJob``) elects one instance per period, so
the jobs run once per period however many instances there are. A failing job is logged (an anchor
refused because the ledger was rewound is logged as an error) and tried again next period.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from models_app import services
from models_app.audit_anchor import anchor_write
from models_app.exceptions import AnchorRefused

log = logging.getLogger("models_app.periodic")


@dataclass(frozen=True)
class Job:
    name: str
    every: Callable[[], float]
    run: Callable[[], str]
    enabled: Callable[[], bool] = lambda: True


def _retention() -> str:
    report = services.retention_apply()
    if report.errors:
        raise RuntimeError("; ".join(report.errors))
    return f"{len(report.purged)} version(s) purged ({report.bytes_freed} bytes), {len(report.kept)} kept"


def _anchor() -> str:
    try:
        result = anchor_write()
    except AnchorRefused as exc:
        log.error("ledger checkpoint refused: %s", exc, extra={"event": "audit_anchor_refused"})
        raise
    if not result.written:
        return f"unchanged since {result.name}"
    return f"{result.name}: {result.count} rows" + (" (object lock)" if result.locked else "")


JOBS = (
    Job("retention", lambda: settings.REGISTRY_RETENTION_SECONDS, _retention),
    Job(
        "audit_anchor",
        lambda: settings.REGISTRY_AUDIT_ANCHOR_SECONDS,
        _anchor,
        enabled=lambda: bool(settings.REGISTRY_AUDIT_ANCHOR_KEY),
    ),
)


def run_due(*, runner: str) -> dict[str, str]:
    """Run every enabled job whose period has elapsed and that no other instance claimed; returns
    job name -> outcome for the jobs this call ran."""
    outcomes = {}
    for job in JOBS:
        if not job.enabled():
            continue
        if not services.periodic_job_claim(name=job.name, every_seconds=job.every(), runner=runner):
            continue
        try:
            message, ok = job.run(), True
        except Exception as exc:  # logged and recorded; the next period tries again
            if not isinstance(exc, AnchorRefused):
                log.exception("periodic job %s failed", job.name)
            message, ok = f"{exc.__class__.__name__}: {exc}", False
        services.periodic_job_finish(name=job.name, ok=ok, message=message)
        log.info("periodic job %s: %s", job.name, message, extra={"job": job.name, "ok": ok})
        outcomes[job.name] = message
    return outcomes


class Command(BaseCommand):
    help = (
        "Run the registry's periodic jobs (retention daily, ledger checkpoints every "
        "REGISTRY_AUDIT_ANCHOR_SECONDS) until stopped; --once runs what is due and exits. Any number of "
        "instances may run it: each job runs once per period."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run the jobs that are due, then exit.")
        parser.add_argument(
            "--tick", type=float, default=10.0, help="Seconds between looks for due jobs (default 10)."
        )

    def handle(self, *args, once=False, tick=10.0, **options):
        runner = f"{socket.gethostname()}:{os.getpid()}"
        if not settings.REGISTRY_AUDIT_ANCHOR_KEY:
            log.warning("REGISTRY_AUDIT_ANCHOR_KEY is not set: no ledger checkpoints are written")
        if once:
            for name, message in run_due(runner=runner).items():
                self.stdout.write(f"{name}: {message}")
            return
        stop = threading.Event()

        def request_stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"Running periodic jobs as {runner} (Ctrl-C to stop).")
        while not stop.is_set():
            close_old_connections()
            try:
                run_due(runner=runner)
            except DatabaseError as exc:
                log.warning("database unavailable, retrying: %s", exc)
            except Exception:
                log.exception("periodic job loop failed")
            stop.wait(max(tick, 0.1))
        self.stdout.write("Periodic jobs stopped.")
