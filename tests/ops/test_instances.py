"""Two `manage.py serve` instances (gunicorn) on loopback ports against one PostgreSQL and one bucket.

The database is a real one this module creates, migrates (through `serve` itself) and drops. Artifacts
go to an S3 API server (moto) on 127.0.0.1, so the instances keep nothing on local disk (in a build
without the S3 transfer layer, models_app/storage/objectstore.py, they share an artifact directory instead,
as two machines would share a network file system). Instance B
reaches PostgreSQL through a TCP proxy the test controls: cutting the proxy is how the database "stops"
for B without touching the shared server.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.harness import REPO, Instance, TcpProxy, free_port, pid_alive

pytestmark = [pytest.mark.postgres, pytest.mark.s3]

METRICS_TOKEN = "e2e-metrics-token-0123456789"
MODEL = "fraud-e2e"
START_TIMEOUT = 45
# S3 registrations through boto3 need the S3 layer's single-pass hashing upload (issue 6).
USE_S3 = importlib.util.find_spec("models_app.storage.objectstore") is not None


def _server(url: str) -> dict:
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password,
        "dbname": parts.path.lstrip("/") or "postgres",
    }


@pytest.fixture(scope="module")
def e2e_database():
    if connection.vendor != "postgresql":
        pytest.fail("two instances against one database need PostgreSQL: set DATABASE_URL=postgres://...")
    server = _server(os.environ["DATABASE_URL"])
    name = f"{server['dbname']}_e2e"
    admin = {k: v for k, v in server.items() if k != "dbname"}
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield {**server, "dbname": name}
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _url(db: dict, port: int) -> str:
    auth = db["user"] + (f":{db['password']}" if db["password"] else "")
    return f"postgres://{auth}@127.0.0.1:{port}/{db['dbname']}"


@pytest.fixture(scope="module")
def bucket():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket="registry-e2e")
    yield client
    server.stop()


@pytest.fixture(scope="module")
def proxy(e2e_database):
    p = TcpProxy(free_port(), (e2e_database["host"], e2e_database["port"])).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("instances")


@pytest.fixture(scope="module")
def instances(e2e_database, proxy, bucket, workdir):
    base = {
        key: value
        for key, value in os.environ.items()
        # Nothing of the test process's own configuration (other tests set DJANGO_ALLOW_ASYNC_UNSAFE).
        if not key.startswith(("PYTEST", "DJANGO_", "PROMETHEUS_", "REGISTRY_", "AWS_", "DATABASE_"))
    }
    base.update(
        DJANGO_SETTINGS_MODULE="registry_site.settings",
        DJANGO_SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
        DJANGO_STATIC_ROOT=str(workdir / "static"),
        REGISTRY_DATA_DIR=str(workdir / "data"),
        REGISTRY_ARTIFACT_ROOT=str(workdir / "shared-artifacts"),
        REGISTRY_STORAGE="s3" if USE_S3 else "filesystem",
        AWS_STORAGE_BUCKET_NAME="registry-e2e",
        AWS_S3_ENDPOINT_URL=bucket.meta.endpoint_url,
        AWS_S3_REGION_NAME="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        REGISTRY_WEB_CONCURRENCY="2",
        REGISTRY_WEB_THREADS="4",
        # Every thread may receive a body: the concurrency below is the point of this test.
        REGISTRY_BODY_SLOTS="4",
        REGISTRY_LOG_FORMAT="json",
        REGISTRY_LOG_LEVEL="INFO",
        REGISTRY_METRICS_TOKEN=METRICS_TOKEN,
        REGISTRY_SHUTDOWN_TIMEOUT="10",
        REGISTRY_READY_CACHE_SECONDS="0",
        REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS="1",
    )
    # Collecting static files is the same work for every instance and takes seconds; the instances
    # here serve only the API, so they share an empty static root instead.
    (workdir / "static").mkdir(exist_ok=True)
    args = ("--no-collectstatic",)
    a = Instance(
        "a", free_port(), {**base, "DATABASE_URL": _url(e2e_database, e2e_database["port"])}, workdir, args
    )
    b = Instance("b", free_port(), {**base, "DATABASE_URL": _url(e2e_database, proxy.port)}, workdir, args)
    try:
        # Started together on an empty database: one migrates under the advisory lock, the other waits.
        a.start()
        b.start()
        a.wait_ready(START_TIMEOUT)
        b.wait_ready(START_TIMEOUT)
        yield a, b
    finally:
        b.kill()
        a.kill()


def manage_shell(env: dict, code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


SETUP = f"""
import json
from django.contrib.auth.models import Group, User
from models_app import services
from models_app.services import api_token_create
team = Group.objects.create(name="fraud-team")
def user(name, *groups):
    u = User.objects.create_user(name)
    u.groups.add(*(Group.objects.get(name=g) if isinstance(g, str) else g for g in groups))
    return u
pub = user("pat", "Publishers", team)
rita = user("rita", "Reviewers")
rob = user("rob", "Reviewers")
services.registered_model_create(name="{MODEL}", team=team, actor=pub)
print(json.dumps({{u.username: api_token_create(user=u, name="e2e")[1] for u in (pub, rita, rob)}}))
"""

FINAL = f"""
import json
from models_app.ledger import verify_chain
from models_app.models import ModelVersion, LedgerEntry
versions = ModelVersion.objects.filter(registered_model__name="{MODEL}")
report = verify_chain()
print(json.dumps({{
    "numbers": sorted(versions.values_list("version", flat=True)),
    "production": list(versions.filter(stage="production").values_list("version", flat=True)),
    "chain_ok": report.ok,
    "rows": report.checked,
    "request_ids": sorted(set(LedgerEntry.objects.exclude(request_id="").values_list("request_id", flat=True))),
}}))
"""


@pytest.fixture(scope="module")
def tokens(instances):
    return manage_shell(instances[0].env, SETUP)


def api_available(instance) -> bool:
    return httpx.get(f"{instance.url}/api/v1/models/", timeout=5).status_code != 404


def auth(token: str, request_id: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    if request_id:
        headers["X-Request-ID"] = request_id
    return headers


def scrape(instance, token=METRICS_TOKEN) -> dict:
    response = httpx.get(f"{instance.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


# -- the tests run in this order; the last one stops both instances with Ctrl-C ----------------------


def test_both_instances_are_ready_on_one_database(instances):
    for instance in instances:
        response = httpx.get(f"{instance.url}/api/v1/ready/", timeout=5)
        assert response.status_code == 200
        checks = response.json()["checks"]
        assert checks["database"]["ok"] and checks["migrations"]["ok"]
        assert checks["storage"] == {
            **checks["storage"],
            "ok": True,
            "backend": "s3" if USE_S3 else "filesystem",
        }
        assert httpx.get(f"{instance.url}/api/v1/health/", timeout=5).json() == {"status": "ok"}
    # Started together, they migrated once: the advisory lock made the second wait and find nothing to do.
    outputs = [instance.stdout_path.read_text() for instance in instances]
    assert sorted("Applying" in out for out in outputs) == [False, True]
    assert any("No migrations to apply." in out for out in outputs)


def test_concurrent_registrations_and_approvals_across_instances(instances, tokens, bucket, workdir):
    a, b = instances
    pat, reviewers = tokens["pat"], [tokens["rita"], tokens["rob"]]
    payloads = {i: f"weights of run {i} ".encode() * (50 + i) for i in range(1, 17)}

    def register(i):
        target = instances[i % 2]
        response = httpx.post(
            f"{target.url}/api/v1/models/{MODEL}/versions/",
            headers=auth(pat, f"e2e-register-{i}"),
            files=[("file", ("weights/model.bin", payloads[i], "application/octet-stream"))],
            data={"metadata": json.dumps({"parameters": {"run": i}})},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        created = list(pool.map(register, payloads))
    numbers = sorted(v["version"] for v in created)
    assert numbers == list(range(1, 17))  # gap-free, no duplicates, though two processes numbered them

    # Every version readable and downloadable from the *other* instance, bytes identical.
    downloaded = 0
    for v in created[:4]:
        run = v["parameters"]["run"]
        other = instances[(run + 1) % 2]
        body = httpx.get(
            f"{other.url}/api/v1/models/{MODEL}/versions/{v['version']}/files/weights/model.bin",
            headers=auth(pat),
            timeout=30,
        )
        assert body.status_code == 200
        assert hashlib.sha256(body.content).hexdigest() == v["files"][0]["sha256"]
        assert body.content == payloads[run]
        downloaded += len(body.content)

    # Six versions to Staging, six requests, then every approval at once, split across both instances.
    candidates = list(range(1, 7))
    for n in candidates:
        moved = httpx.post(
            f"{instances[n % 2].url}/api/v1/models/{MODEL}/versions/{n}/transition/",
            headers=auth(pat),
            json={"to": "staging"},
            timeout=10,
        )
        assert moved.status_code == 200, moved.text
    request_ids = []
    for n in candidates:
        made = httpx.post(
            f"{instances[n % 2].url}/api/v1/transition-requests/",
            headers=auth(pat),
            json={"model": MODEL, "version": n, "to": "production"},
            timeout=10,
        )
        assert made.status_code == 201, made.text
        request_ids.append(made.json()["id"])

    def approve(k):
        req_id = request_ids[k]
        response = httpx.post(
            f"{instances[k % 2].url}/api/v1/transition-requests/{req_id}/approve/",
            headers=auth(reviewers[k % 2], f"e2e-approve-{req_id}"),
            json={"comment": "ok"},
            timeout=30,
        )
        return response.status_code, response.text

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(approve, range(len(request_ids))))
    assert all(code == 200 for code, _ in outcomes), outcomes

    listing = httpx.get(
        f"{b.url}/api/v1/models/{MODEL}/versions/",
        params={"stage": "production"},
        headers=auth(pat),
        timeout=10,
    )
    assert listing.status_code == 200
    production = [v["version"] for v in listing.json()["results"]]
    assert len(production) == 1

    final = manage_shell(a.env, FINAL)
    assert final["numbers"] == list(range(1, 17))
    assert final["production"] == production
    assert final["chain_ok"] is True
    # Ledger rows carry the request ids the clients sent, whichever instance served them.
    assert {f"e2e-register-{i}" for i in payloads} <= set(final["request_ids"])
    assert {f"e2e-approve-{r}" for r in request_ids} <= set(final["request_ids"])

    # The request line and the ledger line of one registration share its id and name the token's user.
    logged = [x for x in a.log_lines() + b.log_lines() if x.get("request_id") == "e2e-register-3"]
    assert {x.get("event") for x in logged} >= {"request", "ledger"}
    (request_line,) = [x for x in logged if x.get("event") == "request"]
    assert request_line["user"] == "pat"
    assert request_line["status"] == 201
    assert request_line["method"] == "POST"

    # Stateless instances: every artifact is in the bucket, nothing on the instances' local disk.
    if USE_S3:
        keys = [o["Key"] for o in bucket.list_objects_v2(Bucket="registry-e2e").get("Contents", [])]
        assert len(keys) == 16
        assert not (workdir / "shared-artifacts").exists()
    else:
        assert len([p for p in (workdir / "shared-artifacts").rglob("*") if p.is_file()]) == 16

    # The registry counters add up across both instances and all their workers.
    scraped = [scrape(a), scrape(b)]
    registrations = sum(s[("registry_registrations_total", ())] for s in scraped)
    approved = sum(s[("registry_transitions_total", (("kind", "approved"),))] for s in scraped)
    bytes_in = sum(s[("registry_artifact_bytes_in_total", ())] for s in scraped)
    bytes_out = sum(s[("registry_artifact_bytes_out_total", ())] for s in scraped)
    assert registrations == 16
    assert approved == 6
    assert bytes_in == sum(len(p) for p in payloads.values())
    assert bytes_out == downloaded
    assert all(s[("registry_transition_requests_pending", ())] == 0 for s in scraped)
    assert all(s[("registry_versions", (("stage", "production"),))] == 1 for s in scraped)


def test_ready_follows_the_database_without_a_restart(instances, proxy):
    a, b = instances
    pid_before = b.process.pid

    def ready(instance):
        response = httpx.get(f"{instance.url}/api/v1/ready/", timeout=10)
        return response.status_code, response.json()

    assert ready(b)[0] == 200
    proxy.cut()
    try:
        status, body = ready(b)
        assert status == 503
        assert body["status"] == "unready"
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["database"]["error"] == "OperationalError"
        assert body["checks"]["storage"]["ok"] is True
        assert ready(a)[0] == 200  # the other instance's database path is untouched
        # Liveness stays up: the process itself is fine, a restart would not help.
        assert httpx.get(f"{b.url}/api/v1/health/", timeout=5).status_code == 200
    finally:
        proxy.restore()
    deadline = time.monotonic() + 10
    while ready(b)[0] != 200:
        assert time.monotonic() < deadline, "B did not become ready again"
        time.sleep(0.2)
    assert b.process.poll() is None and b.process.pid == pid_before


def test_log_lines_are_json_with_the_request_id(instances):
    a, b = instances
    request_id = f"e2e-log-{uuid.uuid4().hex[:12]}"
    response = httpx.get(f"{a.url}/api/v1/health/", headers={"X-Request-ID": request_id}, timeout=5)
    assert response.headers["X-Request-ID"] == request_id
    generated = httpx.get(f"{b.url}/api/v1/health/", timeout=5).headers["X-Request-ID"]
    assert len(generated) == 32

    def find(instance, rid):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            matches = [x for x in instance.log_lines() if x.get("request_id") == rid]
            if matches:
                return matches
            time.sleep(0.1)
        raise AssertionError(f"no log line with request id {rid}")

    (line,) = find(a, request_id)
    assert line["event"] == "request"
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/health/"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert find(b, generated)[0]["path"] == "/api/v1/health/"
    # Every line either instance wrote so far parses (log_lines fails on any that does not).
    assert any(x.get("logger") == "gunicorn.error" for x in b.log_lines())
    assert any(x.get("event") == "ledger" for x in a.log_lines() + b.log_lines()) or not api_available(a)


def test_metrics_are_refused_to_anonymous_callers(instances):
    for instance in instances:
        anonymous = httpx.get(f"{instance.url}/metrics", timeout=5)
        assert anonymous.status_code == 401
        assert "registry_" not in anonymous.text
        assert httpx.get(f"{instance.url}/metrics", headers=auth("wrong"), timeout=5).status_code == 401
        body = scrape(instance)
        assert body[("registry_database_up", ())] == 1
        assert ("registry_transitions_total", (("kind", "rollback"),)) in body
        assert any(name.startswith("django_http_requests") for name, _ in body)


def test_ctrl_c_stops_every_process(instances):
    children = {instance.name: instance.child_pids() for instance in instances}
    for pids in children.values():
        assert len(pids) == 3  # gunicorn master + 2 workers
        assert all(pid_alive(pid) for pid in pids)
    for instance in instances:
        instance.process.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends
    for instance in instances:
        assert instance.process.wait(timeout=30) == 0
        deadline = time.monotonic() + 5
        while any(pid_alive(pid) for pid in children[instance.name]):
            assert time.monotonic() < deadline, "a child outlived the supervisor"
            time.sleep(0.1)
        messages = [x["message"] for x in instance.log_lines()]
        assert f"signal {signal.SIGINT.name} received; stopping" in messages
        assert "web stopped (status 0)" in messages
        assert "periodic stopped (status 0)" in messages
