"""The modelreg package on its own, with no registry to talk to: it loads nothing from Django,
``python -m modelreg`` runs it, and bad usage exits 2 before any request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def modelreg(*args: str, url: str = "") -> subprocess.CompletedProcess:
    """Run ``python -m modelreg`` in a fresh interpreter (this test process has Django loaded)."""
    env = {**os.environ, "MODELREG_URL": url} if url else None
    return subprocess.run(
        [sys.executable, "-m", "modelreg", *args], capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture
def unreachable_url():
    """A local port nothing listens on: any request the CLI makes fails with exit code 3."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_it_imports_nothing_from_django():
    check = (
        "import sys, modelreg.cli, modelreg.transfer\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'models_app')))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_python_dash_m_runs_the_cli():
    done = modelreg("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: modelreg")


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00Z", ""])
def test_history_at_a_bad_time_is_a_usage_error(unreachable_url, value):
    done = modelreg("history", "fraud-detector", "--at", value, url=unreachable_url)
    assert done.returncode == 2, done.stderr  # 3 would mean it asked the registry first
    assert f"argument --at: {value!r} is not an ISO 8601 time" in done.stderr


@pytest.mark.parametrize("value", ["2024-06-01T12:00:00Z", "2024-06-01T14:00:00+02:00", "2024-06-01"])
def test_history_at_an_iso_time_goes_to_the_registry(unreachable_url, value):
    done = modelreg("history", "fraud-detector", "--at", value, url=unreachable_url)
    assert done.returncode == 3, done.stderr
    assert "Cannot reach the registry" in done.stderr
