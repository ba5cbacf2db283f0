"""``python manage.py serve``: production mode on one machine (what ``make serve`` runs).

Applies migrations (under a PostgreSQL advisory lock, so instances started together migrate once),
collects static files for whitenoise, then runs gunicorn, the webhook delivery worker (when the command
exists) and the periodic jobs (``run_periodic``: retention once a day, a ledger checkpoint every
REGISTRY_AUDIT_ANCHOR_SECONDS) as child processes. SIGINT (Ctrl-C) or SIGTERM stops them gracefully and waits for
them; if either child dies, the other is stopped too and ``serve`` exits non-zero so that the
process manager above it restarts the whole set.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

log = logging.getLogger("models_app.serve")

# Any constant shared by every instance of this registry: the key of the "migrating" advisory lock.
MIGRATE_LOCK_KEY = 0x5265_6749_5354_5259 & 0x7FFF_FFFF_FFFF_FFFF
POLL_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # pragma: no cover - runs in the forked child
    # Own process group: a terminal's Ctrl-C reaches only the supervisor, which then stops the
    # children gracefully (SIGTERM) instead of gunicorn's abrupt SIGINT shutdown.
    os.setpgid(0, 0)
    # If the supervisor is killed outright, the children must not run on unsupervised.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Command(BaseCommand):
    # The checks run below, with the deployment checks, and go to the log like everything else.
    requires_system_checks: list = []
    help = (
        "Run the registry in production mode on this machine: migrate, collectstatic, gunicorn, the "
        "webhook delivery worker and the periodic jobs (retention, ledger checkpoints); Ctrl-C stops "
        "everything cleanly. Needs DJANGO_SECRET_KEY."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            default=os.environ.get("REGISTRY_BIND", "127.0.0.1:8000"),
            help="host:port for gunicorn (env REGISTRY_BIND, default 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="gunicorn worker processes (env REGISTRY_WEB_CONCURRENCY or WEB_CONCURRENCY).",
        )
        parser.add_argument("--no-migrate", action="store_true", help="Do not apply migrations first.")
        parser.add_argument("--no-collectstatic", action="store_true", help="Do not collect static files.")
        parser.add_argument(
            "--no-webhook-worker", action="store_true", help="Do not start the webhook delivery worker."
        )
        parser.add_argument(
            "--no-periodic",
            action="store_true",
            help="Do not run the periodic jobs (retention, ledger checkpoints) on this instance.",
        )

    def handle(self, *args, **options):
        if settings.DEBUG:
            raise CommandError(
                "serve is production mode; unset DJANGO_DEBUG (use `make run` for the development server)."
            )
        if options["workers"] is not None and options["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        self._check()
        if not options["no_migrate"]:
            self._migrate()
        if not options["no_collectstatic"]:
            call_command("collectstatic", interactive=False, verbosity=0)
            log.info("static files collected into %s", settings.STATIC_ROOT)
        # The supervisor serves nothing itself: no database connection stays open in it.
        connections.close_all()

        env = os.environ.copy()
        metrics_dir, own_metrics_dir = self._metrics_dir(env)
        commands = {"web": self._gunicorn_command(options)}
        if options["no_webhook_worker"]:
            pass
        elif "deliver_webhooks" in get_commands():
            commands["webhooks"] = [
                sys.executable,
                str(Path(settings.BASE_DIR) / "manage.py"),
                "deliver_webhooks",
            ]
        else:
            log.info("no deliver_webhooks command in this build; serving without a webhook worker")
        if not options["no_periodic"]:
            commands["periodic"] = [
                sys.executable,
                str(Path(settings.BASE_DIR) / "manage.py"),
                "run_periodic",
            ]
        try:
            code = Supervisor(commands, env=env).run()
        finally:
            if own_metrics_dir:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        if code:
            raise CommandError(f"stopped: a child process exited with status {code}", returncode=code)

    @staticmethod
    def _check() -> None:
        problems = [m for m in checks.run_checks(include_deployment_checks=True) if not m.is_silenced()]
        for message in problems:
            log.log(
                message.level, "system check %s: %s", message.id, message.msg, extra={"check": message.id}
            )
        if any(m.is_serious() for m in problems):
            raise CommandError("system checks failed; see the errors above.")

    def _migrate(self) -> None:
        connection = connections["default"]
        if connection.vendor != "postgresql":
            call_command("migrate", interactive=False, verbosity=1)
            return
        with connection.cursor() as cursor:
            # Several instances started at once: one migrates, the others wait and then find nothing to do.
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
            try:
                call_command("migrate", interactive=False, verbosity=1)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])

    @staticmethod
    def _metrics_dir(env: dict) -> tuple[str, bool]:
        """prometheus_client's multiprocess directory: the operator's (emptied) or a fresh temporary one."""
        given = env.get("PROMETHEUS_MULTIPROC_DIR")
        if given:
            Path(given).mkdir(parents=True, exist_ok=True)
            for stale in Path(given).glob("*.db"):  # files of a previous run would be summed in
                stale.unlink(missing_ok=True)
            return given, False
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="registry-metrics-")
        return env["PROMETHEUS_MULTIPROC_DIR"], True

    @staticmethod
    def _gunicorn_command(options) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "registry_site.wsgi:application",
            "--config",
            "python:registry_site.gunicorn_conf",
            "--bind",
            options["bind"],
        ]
        if options["workers"] is not None:
            command += ["--workers", str(options["workers"])]
        return command


class Supervisor:
    """Starts named child processes, forwards SIGINT/SIGTERM as a graceful SIGTERM, and waits for them."""

    def __init__(self, commands: dict[str, list[str]], *, env: dict, grace_seconds: float | None = None):
        self.commands = commands
        self.env = env
        self.grace_seconds = grace_seconds or float(env.get("REGISTRY_SHUTDOWN_TIMEOUT", "30")) + 5
        self.children: dict[str, subprocess.Popen] = {}
        self.signals: list[int] = []

    def _on_signal(self, signum, frame) -> None:
        self.signals.append(signum)

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for name, command in self.commands.items():
                self.children[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                    command, env=self.env, cwd=settings.BASE_DIR, preexec_fn=_child_setup
                )
                log.info("started %s (pid %s)", name, self.children[name].pid, extra={"child": name})
            code = self._wait_for_stop()
            self._stop_all()
            return code
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _wait_for_stop(self) -> int:
        while not self.signals:
            for name, child in self.children.items():
                status = child.poll()
                if status is not None:
                    log.error("%s exited with status %s; stopping the others", name, status)
                    return status or 1
            time.sleep(POLL_SECONDS)
        log.info("signal %s received; stopping", signal.Signals(self.signals[0]).name)
        return 0

    def _stop_all(self) -> None:
        alive = [c for c in self.children.values() if c.poll() is None]
        for child in alive:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        handled = len(self.signals)
        while any(c.poll() is None for c in alive):
            # A second Ctrl-C, or a stop that takes too long, ends the children at once.
            if time.monotonic() > deadline or len(self.signals) > handled:
                for child in alive:
                    if child.poll() is None:
                        log.warning("killing pid %s", child.pid)
                        with contextlib.suppress(ProcessLookupError):
                            child.kill()
                break
            time.sleep(POLL_SECONDS)
        for name, child in self.children.items():
            child.wait()
            log.info("%s stopped (status %s)", name, child.returncode, extra={"child": name})
