"""``manage.py serve`` becomes registry_site/supervisor.py once its children are about to start: the
process that only watches them holds no Django (it was about a third of an instance's memory)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_supervisor_imports_no_django():
    probe = (
        "import sys, registry_site.supervisor; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_a_child_that_dies_stops_the_supervisor_with_its_status(tmp_path):
    spec = json.dumps(
        {
            "commands": {
                "web": [sys.executable, "-c", "import time; time.sleep(30)"],
                "periodic": [sys.executable, "-c", "raise SystemExit(3)"],
            },
            "cleanup": str(tmp_path / "metrics"),
        }
    )
    (tmp_path / "metrics").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "registry_site.supervisor", spec],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "periodic exited with status 3; stopping the others" in done.stderr
    assert '"message": "web stopped (status' in done.stderr  # JSON lines, as everything else logs
    assert not (tmp_path / "metrics").exists()
