"""Slow and vanishing clients against the real `manage.py serve` (gunicorn) on 127.0.0.1.

On PostgreSQL when the suite runs on it. Twenty authenticated clients start an upload and stall; meanwhile other clients' reads and a
registration complete and the health probe answers within a second. The stalled clients then reset
their connections: client aborts, logged as warnings without a traceback and counted in the metrics,
nothing stored. Chunked bodies, oversized headers and a bad Host header get the API's error shape from
the real server too.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.ops.harness import REPO, Instance

PORT = 8161
MODEL = "slow-clients"
STALLED = 20
READS = 50
METRICS_TOKEN = "slow-metrics-token-0123456789"


def _manage_shell(env: dict, code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


SETUP = f"""
import json
from django.contrib.auth.models import Group, User
from models_app import services
from models_app.services import api_token_create
team = Group.objects.create(name="slow-team")
pub = User.objects.create_user("pat")
pub.groups.add(Group.objects.get(name="Publishers"), team)
services.registered_model_create(name="{MODEL}", team=team, actor=pub)
print(json.dumps([api_token_create(user=pub, name=f"t{{i}}")[1] for i in range({STALLED} + 2)]))
"""

COUNT = f"""
import json
from models_app.models import ModelVersion
print(json.dumps({{"versions": ModelVersion.objects.filter(registered_model__name="{MODEL}").count(),
                   "descriptions": list(ModelVersion.objects.values_list("description", flat=True))}}))
"""


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A fresh database for the server: PostgreSQL when the suite runs on it (as in production),
    otherwise an SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path_factory.mktemp('slow-db') / 'registry.sqlite3'}"
        return
    import psycopg

    parts = urlsplit(url)
    admin = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password,
    }
    # Per xdist worker: two workers must never create, or drop, each other's database.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{parts.path.lstrip('/') or 'postgres'}_slow_{worker}"
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url):
    workdir = tmp_path_factory.mktemp("slow")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "DJANGO_", "PROMETHEUS_", "REGISTRY_", "AWS_", "DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="registry_site.settings",
        DJANGO_SECRET_KEY="slow-" + uuid.uuid4().hex * 2,
        DJANGO_STATIC_ROOT=str(workdir / "static"),
        DATABASE_URL=database_url,
        REGISTRY_DATA_DIR=str(workdir / "data"),
        REGISTRY_ARTIFACT_ROOT=str(workdir / "artifacts"),
        REGISTRY_STORAGE="filesystem",
        REGISTRY_WEB_CONCURRENCY="2",
        # The defaults under test: REGISTRY_WEB_THREADS, REGISTRY_BODY_SLOTS. The read timeout is long
        # here so that the stalled uploads stay stalled for the whole measurement.
        REGISTRY_BODY_READ_TIMEOUT="120",
        REGISTRY_LOG_FORMAT="json",
        REGISTRY_METRICS_TOKEN=METRICS_TOKEN,
        REGISTRY_SHUTDOWN_TIMEOUT="5",
        REGISTRY_READY_CACHE_SECONDS="0",
        REGISTRY_API_THROTTLE_RATE="100000/minute",
    )
    (workdir / "static").mkdir()
    instance = Instance(
        "slow", PORT, env, workdir, ("--no-collectstatic", "--no-webhook-worker", "--no-periodic")
    )
    try:
        instance.start()
        instance.wait_ready(60)
        tokens = _manage_shell(env, SETUP)
        yield instance, tokens
    finally:
        instance.kill()


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _stalled_upload(token: str) -> socket.socket:
    """A registration that sends its headers and the first bytes of a 50 MB body, then nothing."""
    boundary = "stall-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + b"x" * 4096
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    sock.sendall(
        (
            f"POST /api/v1/models/{MODEL}/versions/ HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
        ).encode()
        + head
    )
    return sock


def _reset(sock: socket.socket) -> None:
    # SO_LINGER 0: close() sends RST, the way a client that crashed or lost its network looks.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _metric(instance: Instance, name: str) -> float:
    text = httpx.get(
        f"{instance.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    ).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_stalled_uploads_do_not_starve_reads_registrations_or_probes(server):
    instance, tokens = server
    reader, registrar = tokens[-2], tokens[-1]
    stalled = [_stalled_upload(token) for token in tokens[:STALLED]]
    try:
        time.sleep(1.5)  # every stalled upload is now inside a worker thread, waiting for its body

        def read(i):
            path = [f"/api/v1/models/{MODEL}/", "/api/v1/models/", f"/api/v1/models/{MODEL}/versions/"][i % 3]
            started = time.monotonic()
            response = httpx.get(instance.url + path, headers=_auth(reader), timeout=10)
            return response.status_code, time.monotonic() - started

        def register():
            return httpx.post(
                f"{instance.url}/api/v1/models/{MODEL}/versions/",
                headers=_auth(registrar),
                files=[("file", ("model.bin", b"weights", "application/octet-stream"))],
                data={"metadata": json.dumps({"description": "while others stall"})},
                timeout=10,
            )

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            registration = pool.submit(register)
            reads = list(pool.map(read, range(READS)))
            started = time.monotonic()
            health = httpx.get(f"{instance.url}/api/v1/health/", timeout=5)
            health_seconds = time.monotonic() - started
            registered = registration.result(timeout=15)
        assert [code for code, _ in reads] == [200] * READS
        assert max(seconds for _, seconds in reads) < 5
        assert health.status_code == 200 and health_seconds < 1.0, health_seconds
        assert registered.status_code == 201, registered.text
        # The stalled uploads are all still open (none was answered while we measured).
        answered = []
        for sock in stalled:
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                answered.append(sock.recv(200))
        assert answered == [], answered
    finally:
        aborts_before = _metric(instance, "registry_client_aborts_total")
        for sock in stalled:
            _reset(sock)
    deadline = time.monotonic() + 15
    while (
        time.monotonic() < deadline
        and _metric(instance, "registry_client_aborts_total") < aborts_before + STALLED
    ):
        time.sleep(0.3)
    assert _metric(instance, "registry_client_aborts_total") == aborts_before + STALLED
    state = _manage_shell(instance.env, COUNT)
    assert state["versions"] == 1  # only the registration that completed
    lines = instance.log_lines()
    aborts = [line for line in lines if line.get("event") == "client_abort"]
    assert len(aborts) >= STALLED
    assert all(line["level"] == "WARNING" and "exc_info" not in line for line in aborts)
    errors = [line for line in lines if line.get("level") in ("ERROR", "CRITICAL")]
    assert errors == [], errors[:3]
    assert not list((instance.stdout_path.parent / "artifacts").rglob("big.bin"))


def test_the_real_server_refuses_chunked_bodies_and_bad_headers_in_the_api_shape(server):
    instance, tokens = server
    token = tokens[-1]
    answer = httpx.patch(
        f"{instance.url}/api/v1/models/{MODEL}/",
        headers={**_auth(token), "Content-Type": "application/json"},
        content=iter([b'{"description": "chunked"}']),  # an iterator: httpx sends it chunked
        timeout=10,
    )
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert answer.status_code == 411
    assert answer.json()["errors"][0]["code"] == "length_required"
    model = httpx.get(f"{instance.url}/api/v1/models/{MODEL}/", headers=_auth(token), timeout=10).json()
    assert model["description"] != "chunked"

    big = httpx.get(
        f"{instance.url}/api/v1/models/", headers={**_auth(token), "X-Filler": "x" * 9000}, timeout=10
    )
    assert big.status_code == 431
    assert big.json()["errors"][0]["code"] == "headers_too_large"

    bad_host = httpx.get(f"{instance.url}/api/v1/models/", headers={"Host": "evil.example"}, timeout=10)
    assert bad_host.status_code == 400
    assert bad_host.json()["errors"][0]["code"] == "invalid_host"

    for method, path, code in (("GET", "/api/v1/nothing/", 404), ("DELETE", "/api/v1/models/", 405)):
        response = httpx.request(method, instance.url + path, headers=_auth(token), timeout=10)
        assert response.status_code == code
        assert response.json()["errors"][0]["code"]
