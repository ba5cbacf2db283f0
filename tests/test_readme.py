"""The README's commands work as written: management commands with the settings `make run` uses, and
the curl walkthrough (run with bash and curl against a live server holding the demo data)."""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands

from models_app.choices import LedgerKind, Stage
from models_app.models import ApiToken, LedgerEntry, ModelVersion

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DEV_PREFIX = "DJANGO_DEBUG=1 .venv/bin/python manage.py "


def walkthrough() -> str:
    block = README.split("<!-- walkthrough:start -->\n```sh\n", 1)[1].split("```\n<!-- walkthrough:end -->")[
        0
    ]
    assert "curl" in block
    return block


def test_every_manage_py_command_in_the_readme_is_written_the_way_it_runs():
    """A command to type in a checkout carries the development settings; a bare ``manage.py <name>``
    names the command (in production the environment supplies DJANGO_SECRET_KEY). Each is real."""
    commands = get_commands()
    typed = re.findall(r"(\S*python\S* )?manage\.py (\w+)", README)
    assert typed
    for interpreter, name in typed:
        assert name in commands or name == "check", name
        if interpreter:
            assert interpreter == ".venv/bin/python ", interpreter
    for line in README.splitlines():
        if ".venv/bin/python manage.py" in line:
            assert DEV_PREFIX in line, line
    assert "python manage.py create_api_token ci-bot" not in README


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_development_prefix_starts_without_a_secret_key_and_production_still_refuses():
    done = _manage("create_api_token", "--help", env={"DJANGO_DEBUG": "1"})
    assert done.returncode == 0, done.stderr
    assert "username" in done.stdout
    refused = _manage("create_api_token", "--help", env={})
    assert refused.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in refused.stderr


TOKEN_LINE = re.compile(r"^(\w+)=\$\(" + re.escape(DEV_PREFIX) + r"(create_api_token [^)]*)\)$")


@pytest.mark.django_db(transaction=True)
def test_the_curl_walkthrough_runs_as_written_against_the_demo(live_server, tmp_path, settings):
    assert shutil.which("curl") and shutil.which("bash"), "the walkthrough test needs curl and bash"
    call_command("load_demo", stdout=io.StringIO())
    before = set(
        ModelVersion.objects.filter(registered_model__name="fraud-detector").values_list("pk", flat=True)
    )
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    lines = []
    for line in walkthrough().splitlines():
        token = TOKEN_LINE.match(line)
        if token:
            # The management command runs here, in the test's database, with the README's arguments.
            out = io.StringIO()
            call_command(*shlex.split(token.group(2)), stdout=out)
            env[token.group(1)] = out.getvalue().strip()
            continue
        assert "manage.py" not in line, line
        if line == "REGISTRY=http://127.0.0.1:8000":
            line = f"REGISTRY={live_server.url}"
        lines.append(line)
    assert {"PUBLISHER_TOKEN", "REVIEWER_TOKEN"} <= set(env)
    assert ApiToken.objects.filter(user__username__in=["publisher", "reviewer"]).count() >= 2
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(lines)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (new,) = ModelVersion.objects.filter(registered_model__name="fraud-detector").exclude(pk__in=before)
    # What the commands printed, step by step.
    assert done.stdout.splitlines() == [
        f"registered v{new.version}",
        "retry answered 200",
        "staging",
        f"request #{new.transition_requests.get().pk}",
        "approved",
        str(new.version),
        "pulled the bytes that were registered",
        "2",
    ]
    # And what the registry recorded: the new version went through Staging and an approval into
    # Production and was rolled back; v2 is in Production again.
    new.refresh_from_db()
    assert new.stage == Stage.ARCHIVED
    assert (
        ModelVersion.objects.get(registered_model__name="fraud-detector", version=2).stage == Stage.PRODUCTION
    )
    kinds = list(LedgerEntry.objects.filter(version=new).order_by("id").values_list("kind", flat=True))
    assert kinds[:5] == [
        LedgerKind.REGISTERED,
        LedgerKind.DIRECT,
        LedgerKind.REQUESTED,
        LedgerKind.APPROVAL,
        LedgerKind.APPROVED,
    ]
    assert LedgerKind.AUTOMATIC in kinds[5:] or LedgerKind.ROLLBACK in kinds[5:]
    assert {f.path for f in new.files.all()} == {"weights/model.bin", "config.json"}
    assert (tmp_path / "pulled-model.bin").read_bytes() == b"trained weights"
