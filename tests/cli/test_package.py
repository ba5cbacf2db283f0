"""The modelreg package stands on its own: no Django, and ``python -m modelreg`` runs the CLI."""

from __future__ import annotations

import subprocess
import sys


def test_it_imports_nothing_from_django():
    # A fresh interpreter: this test process has Django loaded already.
    check = (
        "import sys, modelreg.cli, modelreg.transfer\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'models_app')))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_python_dash_m_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "modelreg", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: modelreg")
