"""Mixed-workload load test: many concurrent clients against gunicorn + PostgreSQL on 127.0.0.1.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_load .venv/bin/python bench/load.py

The database named in DATABASE_URL is dropped and created afresh (it must not be one you care about).
Clients mix reads (model, version list, audit), Production downloads (checksum verified), registrations
and promotions (staging, request, approval). The run is bounded by --duration and --max-requests. It
prints throughput, p50/p95/p99 latency per operation and the error count, then checks the invariants on
the database (one Production per model, gap-free numbers, stages equal to the ledger, the hash chain)
and that every acknowledged registration exists with the checksum the server acknowledged.
Exits non-zero when an invariant fails or a request errs. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import secrets
import tempfile
import threading
import time
from collections import defaultdict

import httpx
from _common import (
    free_port,
    migrate,
    multipart,
    promote,
    recreate_database,
    register,
    seed_people,
    setup_django,
    start_server,
)

MODELS = ("load-alpha", "load-beta")


def seed() -> dict:
    """Users, tokens, two models each with v1 in Production (through the services)."""
    from models_app import services
    from models_app.services.tokens import api_token_create

    team, publisher, reviewers = seed_people("load", ["load-reviewer-1", "load-reviewer-2"])
    for name in MODELS:
        model = services.registered_model_create(name=name, team=team, actor=publisher)
        version = register(model, publisher, os.urandom(64 * 1024), {"metrics": {"accuracy": 0.95}})
        promote(version, publisher, reviewers[0])
    return {
        "publisher": api_token_create(user=publisher, name="load")[1],
        "reviewers": [api_token_create(user=r, name="load")[1] for r in reviewers],
    }


class Stats:
    """Thread-safe latency and outcome records."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.conflicts = 0
        self.acknowledged: list[tuple[str, int, str]] = []
        self.requests = 0

    def record(self, op: str, seconds: float) -> None:
        with self.lock:
            self.latency[op].append(seconds)
            self.requests += 1


def run_client(
    index: int, base: str, tokens: dict, stats: Stats, deadline: float, budget: threading.Semaphore
):
    rng = random.Random(index)
    publisher = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {tokens['publisher']}"}, timeout=60
    )
    reviewers = [
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {t}"}, timeout=60)
        for t in tokens["reviewers"]
    ]

    def call(op: str, client: httpx.Client, method: str, url: str, ok=(200,), conflict=(), **kwargs):
        if not budget.acquire(blocking=False):
            raise StopIteration
        started = time.perf_counter()
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            with stats.lock:
                stats.errors.append(f"{op}: {exc.__class__.__name__}: {exc}")
            return None
        stats.record(op, time.perf_counter() - started)
        if response.status_code in conflict:
            with stats.lock:
                stats.conflicts += 1
            return None
        if response.status_code not in ok:
            with stats.lock:
                stats.errors.append(f"{op} {method} {url}: {response.status_code} {response.text[:200]}")
            return None
        return response

    try:
        while time.monotonic() < deadline:
            model = rng.choice(MODELS)
            roll = rng.random()
            if roll < 0.45:
                url = rng.choice(
                    [
                        f"/api/v1/models/{model}/",
                        f"/api/v1/models/{model}/versions/",
                        "/api/v1/audit/?page_size=20",
                    ]
                )
                call("read", publisher, "GET", url)
            elif roll < 0.70:
                meta = call(
                    "production-get", publisher, "GET", f"/api/v1/models/{model}/versions/production/"
                )
                if meta is not None:
                    got = call(
                        "download",
                        publisher,
                        "GET",
                        f"/api/v1/models/{model}/versions/production/files/model.bin",
                    )
                    # Production may move between the two calls; the body must match its own ETag.
                    if got is not None and hashlib.sha256(got.content).hexdigest() != got.headers[
                        "ETag"
                    ].strip('"'):
                        with stats.lock:
                            stats.errors.append(f"download {model}: body does not match its ETag")
            elif roll < 0.88:
                data = os.urandom(rng.randint(1, 32) * 1024)
                body, content_type = multipart(data, accuracy=rng.choice([0.9, 0.95]))
                response = call(
                    "register",
                    publisher,
                    "POST",
                    f"/api/v1/models/{model}/versions/",
                    ok=(201,),
                    content=body,
                    headers={"Content-Type": content_type},
                )
                if response is not None:
                    payload = response.json()
                    with stats.lock:
                        stats.acknowledged.append((model, payload["version"], payload["files"][0]["sha256"]))
                    if hashlib.sha256(data).hexdigest() != payload["files"][0]["sha256"]:
                        with stats.lock:
                            stats.errors.append(f"register {model}: acknowledged a different checksum")
            else:
                listing = call(
                    "read", publisher, "GET", f"/api/v1/models/{model}/versions/?stage=none&page_size=5"
                )
                if listing is None or not listing.json()["results"]:
                    continue
                number = listing.json()["results"][0]["version"]
                moved = call(
                    "promote",
                    publisher,
                    "POST",
                    f"/api/v1/models/{model}/versions/{number}/transition/",
                    conflict=(409,),
                    json={"to": "staging"},
                )
                if moved is None:
                    continue
                req = call(
                    "promote",
                    publisher,
                    "POST",
                    "/api/v1/transition-requests/",
                    ok=(201,),
                    conflict=(409,),
                    json={"model": model, "version": number, "to": "production"},
                )
                if req is None:
                    continue
                call(
                    "promote",
                    rng.choice(reviewers),
                    "POST",
                    f"/api/v1/transition-requests/{req.json()['id']}/approve/",
                    conflict=(409,),
                    json={"comment": "load"},
                )
    except StopIteration:
        pass
    finally:
        publisher.close()
        for client in reviewers:
            client.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def check_invariants(acknowledged: list[tuple[str, int, str]]) -> list[str]:
    from models_app.choices import STAGE_CHANGE_KINDS, Stage
    from models_app.ledger import verify_chain
    from models_app.models import LedgerEntry, ModelVersion, RegisteredModel

    problems = []
    for model in RegisteredModel.objects.all():
        versions = list(ModelVersion.objects.filter(registered_model=model).order_by("version"))
        numbers = [v.version for v in versions]
        if numbers != list(range(1, len(numbers) + 1)) or model.last_version_number != len(numbers):
            problems.append(f"{model.name}: version numbers are not 1..{len(numbers)}")
        if sum(v.stage == Stage.PRODUCTION for v in versions) > 1:
            problems.append(f"{model.name}: more than one Production version")
        for v in versions:
            last = LedgerEntry.objects.filter(version=v, kind__in=STAGE_CHANGE_KINDS).order_by("-id").first()
            if v.stage != (last.to_stage if last else Stage.NONE):
                problems.append(f"{model.name} v{v.version}: stage {v.stage} disagrees with the ledger")
    report = verify_chain()
    if not report.ok:
        problems.append(f"hash chain: {report.problem}")
    found = {
        (name, number, sha)
        for name, number, sha in ModelVersion.objects.filter(status="ready").values_list(
            "registered_model__name", "version", "files__sha256"
        )
    }
    missing = [a for a in acknowledged if a not in found]
    if missing:
        problems.append(f"{len(missing)} acknowledged registrations are missing, e.g. {missing[:3]}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (upper bound)")
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL=postgres://... (a database this script may drop).")

    data_dir = tempfile.mkdtemp(prefix="registry-load-")
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SECURE_COOKIES": "0",
        "REGISTRY_DATA_DIR": data_dir,
        "REGISTRY_API_THROTTLE_RATE": "1000000/minute",
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "REGISTRY_LOG_LEVEL": "WARNING",
    }
    recreate_database(url)
    migrate(env)
    setup_django(env)
    tokens = seed()
    port = free_port()
    server = start_server(env, port, args.workers, args.threads, timeout=120)
    stats = Stats()
    budget = threading.Semaphore(args.max_requests)
    try:
        started = time.monotonic()
        deadline = started + args.duration
        threads = [
            threading.Thread(
                target=run_client, args=(i, f"http://127.0.0.1:{port}", tokens, stats, deadline, budget)
            )
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + 120)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"\nMixed load: {args.clients} clients, gunicorn {args.workers}x{args.threads} gthread, PostgreSQL, "
        f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"{stats.requests} requests in {elapsed:.1f} s = {stats.requests / elapsed:.0f} req/s; "
        f"errors {len(stats.errors)}; expected 409 conflicts {stats.conflicts}; "
        f"registrations acknowledged {len(stats.acknowledged)}"
    )
    print(f"{'operation':<16}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    everything = []
    for op in sorted(stats.latency):
        values = stats.latency[op]
        everything += values
        print(
            f"{op:<16}{len(values):>8}{percentile(values, 50):>10.1f}{percentile(values, 95):>10.1f}"
            f"{percentile(values, 99):>10.1f}"
        )
    print(
        f"{'all':<16}{len(everything):>8}{percentile(everything, 50):>10.1f}{percentile(everything, 95):>10.1f}"
        f"{percentile(everything, 99):>10.1f}"
    )
    for line in stats.errors[:10]:
        print("error:", line)
    problems = check_invariants(stats.acknowledged)
    print("invariants:", "all hold" if not problems else "; ".join(problems))
    if problems or stats.errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
