"""Send outbox events to webhook subscribers, and the queued notification e-mails:
``python manage.py deliver_webhooks [--once]``."""

from __future__ import annotations

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from models_app.pipeline.delivery import default_worker_id, deliver_due
from models_app.pipeline.notifications import email_send_due

log = logging.getLogger("models_app.webhooks")


class Command(BaseCommand):
    help = (
        "Deliver pending webhook events (signed per Standard Webhooks) and queued notification e-mails, with "
        "retries and backoff. Runs until "
        "stopped (SIGTERM/SIGINT finish the current send first); --once delivers what is due and exits. "
        "Several workers may run at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Deliver everything due now, then exit.")
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=None,
            help="Seconds between polls when idle (default REGISTRY_WEBHOOK_POLL_SECONDS).",
        )
        parser.add_argument("--worker-id", default=None, help="Name in the attempt log (default host:pid).")
        parser.add_argument(
            "--limit", type=int, default=1000, help="With --once: stop after this many deliveries."
        )

    def handle(self, *args, once=False, poll_interval=None, worker_id=None, limit=1000, **options):
        worker = worker_id or default_worker_id()
        if once:
            sent = deliver_due(worker=worker, limit=limit)
            emails = email_send_due(limit=limit)
            self.stdout.write(f"Sent {sent} deliveries and {emails} e-mails.")
            return
        interval = settings.WEBHOOK_POLL_SECONDS if poll_interval is None else poll_interval
        stop = threading.Event()

        def request_stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"Delivering webhooks as {worker} (Ctrl-C to stop).")
        while not stop.is_set():
            # A long-running process must not keep a connection the database has dropped.
            close_old_connections()
            try:
                sent = deliver_due(worker=worker, limit=100) + email_send_due(limit=100)
            except DatabaseError as exc:
                # Through logging, so that production logs stay one JSON object per line.
                log.warning("database unavailable, retrying: %s", exc)
                sent = 0
                stop.wait(max(interval, 5.0))
            except Exception:
                # Keep serving the other deliveries; the lease brings this one back later.
                log.exception("webhook worker loop failed")
                sent = 0
                stop.wait(max(interval, 5.0))
            if not sent:
                stop.wait(interval)
        self.stdout.write("Webhook worker stopped.")
