"""``python manage.py serve``: production mode on one machine (what ``make serve`` runs).

Applies migrations (under a PostgreSQL advisory lock, so instances started together migrate once),
collects static files for whitenoise, then runs gunicorn, the webhook delivery worker (when the command
exists) and the periodic jobs (``run_periodic``: retention once a day, a ledger checkpoint every
REGISTRY_AUDIT_ANCHOR_SECONDS) as child processes. SIGINT (Ctrl-C) or SIGTERM stops them gracefully and waits for
them; if either child dies, the other is stopped too and ``serve`` exits non-zero so that the
process manager above it restarts the whole set. Once the children are about to start, ``serve``
replaces itself (same pid) with registry_site/supervisor.py, which does that without holding Django.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

log = logging.getLogger("models_app.serve")

# Any constant shared by every instance of this registry: the key of the "migrating" advisory lock.
MIGRATE_LOCK_KEY = 0x5265_6749_5354_5259 & 0x7FFF_FFFF_FFFF_FFFF


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
        self._supervise(commands, env=env, cleanup=metrics_dir if own_metrics_dir else None)

    @staticmethod
    def _supervise(commands: dict[str, list[str]], *, env: dict, cleanup: str | None) -> None:
        """Become the supervisor (registry_site/supervisor.py): the same process, without Django."""
        spec = json.dumps({"commands": commands, "cleanup": cleanup})
        # exec discards what is still buffered: the migration report and the log lines must reach the
        # output first (when it is a file or a pipe, Python buffers it in blocks).
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(settings.BASE_DIR)
        os.execve(sys.executable, [sys.executable, "-m", "registry_site.supervisor", spec], env)  # noqa: S606

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
