"""The browser tests fail, never skip, when Chromium is missing; CI installs it first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_missing_chromium_fails_the_tests_that_need_it(tmp_path):
    (tmp_path / "test_needs_a_browser.py").write_text(
        "import tests.browser_fixtures as fixtures\n"
        "from tests.browser_fixtures import browser  # noqa: F401 (the fixture)\n"
        "fixtures.CHROMIUM = '/nonexistent/chromium'\n"
        "def test_it(browser):\n"
        "    assert browser\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:django",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "/nonexistent/chromium is not installed: apt-get install chromium" in done.stdout
    assert "1 error" in done.stdout
    assert "skipped" not in done.stdout


def test_no_browser_test_skips_and_ci_installs_chromium():
    sources = [
        ROOT / "tests/browser_fixtures.py",
        *(ROOT / "tests/browser").glob("*.py"),
        *(ROOT / "tests/sso").glob("*.py"),
    ]
    for source in sources:
        text = source.read_text()
        assert "pytest.skip(" not in text and "importorskip" not in text and "mark.skip" not in text, source
    ci = (ROOT / ".ci/run").read_text()
    assert "if [ ! -x /usr/bin/chromium ]; then" in ci
    assert "apt-get install -y -qq chromium" in ci
