"""The supervisor of ``manage.py serve``, without Django.

``serve`` runs the checks, migrates and collects static files, then replaces itself with this module
(``exec``: the same pid, so a process manager or a pid file still points at it): a process that only
watches its children need not hold a whole Django, which was about a third of an instance's memory.
It starts the children, forwards SIGINT/SIGTERM to them as a graceful SIGTERM and waits for them; if
one dies, it stops the others and exits with that status, so that the process manager above restarts
the whole set. Its log lines have the registry's format (``REGISTRY_LOG_FORMAT``, JSON by default).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

from models_app.ops.logs import JsonFormatter, RequestIdFilter

log = logging.getLogger("models_app.serve")

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
                    command, env=self.env, preexec_fn=_child_setup
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


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    if os.environ.get("REGISTRY_LOG_FORMAT", "json") == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logging.basicConfig(level=os.environ.get("REGISTRY_LOG_LEVEL", "INFO").upper(), handlers=[handler])


def main(argv: list[str]) -> int:
    """``python -m registry_site.supervisor '{"commands": {name: argv}, "cleanup": dir or null}'``."""
    spec = json.loads(argv[1])
    _configure_logging()
    try:
        code = Supervisor(spec["commands"], env=dict(os.environ)).run()
    finally:
        if spec.get("cleanup"):
            shutil.rmtree(spec["cleanup"], ignore_errors=True)
    if code:
        log.error("stopped: a child process exited with status %s", code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
