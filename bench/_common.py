"""What the benchmarks share: a fresh PostgreSQL database, gunicorn on a free local port, users with
their roles and promotions made through the services, and multipart registration bodies.

Imported by the scripts next to it (``bench/`` is on ``sys.path`` when one of them runs). Django is
set up only where a function needs it, after the script has put its settings in the environment.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
BOUNDARY = "bench-boundary-5b0e"


def rss_kib(pid: int) -> int:
    """A process's resident memory in KiB, from /proc (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc."""
    out = [pid]
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            out.extend(process_tree(int(child)))
    return out


def recreate_database(url: str) -> None:
    """Drop the database named in ``url`` (if it exists) and create it empty."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def migrate(env: dict) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )


def setup_django(env: dict) -> None:
    """Configure Django in this process with the settings in ``env`` (for seeding and checks)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict, port: int, workers: int, threads: int, *, timeout: int) -> subprocess.Popen:
    """gunicorn (gthread) on 127.0.0.1:``port``, returned once /api/v1/health/ answers (30 s at most)."""
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "registry_site.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        f"--timeout={timeout}",
        "--log-level=warning",
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health/", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer /api/v1/health/ within 30 s")


def multipart(data: bytes, *, path: str = "model.bin", accuracy: float = 0.5) -> tuple[bytes, str]:
    """A registration body (one file and its metadata) and its Content-Type."""
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
            f'{{"metrics": {{"accuracy": {accuracy}}}}}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{path}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def seed_people(prefix: str, reviewer_names: list[str]):
    """The role groups, a team ``<prefix>-team``, its publisher ``<prefix>-publisher`` and Reviewers by
    the names given; returns (team, publisher, reviewers), read afresh as the services will see them."""
    from django.contrib.auth.models import Group, Permission, User

    from models_app.role_permissions import ensure_role_groups

    ensure_role_groups(Group, Permission)
    team = Group.objects.create(name=f"{prefix}-team")
    publisher = User.objects.create_user(f"{prefix}-publisher")
    publisher.groups.add(Group.objects.get(name="Publishers"), team)
    reviewers = []
    for name in reviewer_names:
        user = User.objects.create_user(name)
        user.groups.add(Group.objects.get(name="Reviewers"))
        reviewers.append(user)
    # Fresh objects: the ones above cache permissions from before their groups were added.
    return team, User.objects.get(pk=publisher.pk), [User.objects.get(pk=r.pk) for r in reviewers]


def register(model, publisher, data: bytes, metadata: dict):
    """A version of one file, ``model.bin``, registered through the services."""
    import io

    from models_app import services
    from models_app.storage.artifacts import IncomingFile

    version, _ = services.version_register(
        registered_model=model,
        actor=publisher,
        files=[IncomingFile(path="model.bin", stream=io.BytesIO(data))],
        metadata=metadata,
    )
    return version


def promote(version, publisher, reviewer) -> None:
    """Staging, then a request for Production and its approval, through the services."""
    from models_app import services

    services.version_transition(version=version, to="staging", actor=publisher)
    req = services.transition_request_create(version=version, to="production", actor=publisher)
    services.transition_request_approve(transition_request=req, actor=reviewer)
