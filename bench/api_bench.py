"""API benchmark: gunicorn + PostgreSQL on 127.0.0.1, 10,000 seeded versions, a table of figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench .venv/bin/python bench/api_bench.py

The database named in DATABASE_URL is dropped and created afresh (it must not be a database you
care about). Measures registrations per second (1 and 16 concurrent clients), p50/p95 latency of
version get, version list, production lookup and audit list, 1 GiB upload and download MB/s, and
the server's peak RSS (master + workers, from /proc) during each. Every loop is bounded in count
and in time. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _common import (
    BOUNDARY,
    free_port,
    migrate,
    multipart,
    process_tree,
    promote,
    recreate_database,
    register,
    rss_kib,
    seed_people,
    setup_django,
    start_server,
)

MiB = 1024 * 1024


# -- server memory ------------------------------------------------------------------------------------


class RssSampler:
    """Samples the summed RSS of the gunicorn master and its workers every 20 ms while active."""

    def __init__(self, master_pid: int):
        self.master_pid = master_pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self):
        self.peak_kib = 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, sum(rss_kib(p) for p in process_tree(self.master_pid)))
            self._stop.wait(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024


# -- set-up -----------------------------------------------------------------------------------------


def seed(n_versions: int, n_models: int, deadline: float) -> dict:
    """Create users, models and ``n_versions`` versions through the services; one Production per model."""
    from models_app import services
    from models_app.services.tokens import api_token_create

    team, publisher, (reviewer,) = seed_people("bench", ["bench-reviewer"])
    models = [
        services.registered_model_create(name=f"bench-{i:03d}", team=team, actor=publisher)
        for i in range(n_models)
    ]
    per_model = n_versions // n_models
    started = time.monotonic()
    made = 0
    for index, model in enumerate(models):
        for number in range(per_model):
            if time.monotonic() > deadline:
                raise SystemExit(f"seeding passed its time limit after {made} versions")
            version = register(
                model,
                publisher,
                f"{model.name}-{number}".encode(),
                {"metrics": {"accuracy": random.random()}, "tags": {"seed": str(index)}},
            )
            made += 1
            if number == per_model // 2:
                promote(version, publisher, reviewer)
        print(
            f"  seeded {made}/{n_versions} versions ({time.monotonic() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    _, publisher_token = api_token_create(user=publisher, name="bench")
    _, reviewer_token = api_token_create(user=reviewer, name="bench")
    return {
        "models": [m.name for m in models],
        "per_model": per_model,
        "publisher_token": publisher_token,
        "reviewer_token": reviewer_token,
        "seconds": time.monotonic() - started,
    }


# -- workloads ----------------------------------------------------------------------------------------


def registrations(
    base: str, token: str, models: list[str], clients: int, total: int, time_limit: float
) -> tuple[float, int]:
    """Register ``total`` small versions from ``clients`` concurrent clients; returns (per second, errors)."""
    deadline = time.monotonic() + time_limit
    counter = iter(range(total))
    lock = threading.Lock()
    errors = 0
    done = 0

    def worker(worker_index: int):
        nonlocal errors, done
        model = models[worker_index % len(models)]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                body, content_type = multipart(os.urandom(1024), path="weights/model.bin")
                response = client.post(
                    f"/api/v1/models/{model}/versions/", content=body, headers={"Content-Type": content_type}
                )
                with lock:
                    if response.status_code == 201:
                        done += 1
                    else:
                        errors += 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(worker, range(clients)))
    return done / (time.monotonic() - started), errors


def latencies(
    client: httpx.Client, paths: list[str], samples: int, time_limit: float
) -> tuple[float, float, int]:
    """p50 and p95 in milliseconds over up to ``samples`` sequential GETs; also the error count."""
    deadline = time.monotonic() + time_limit
    times: list[float] = []
    errors = 0
    for i in range(samples):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        response = client.get(paths[i % len(paths)])
        times.append((time.perf_counter() - started) * 1000)
        errors += response.status_code != 200
    quantiles = statistics.quantiles(times, n=20)
    return statistics.median(times), quantiles[18], errors


def big_upload(base: str, token: str, model: str, size: int) -> tuple[float, str, int]:
    """Stream a ``size``-byte file as one registration; returns (MB/s, sha256, version number)."""
    block = os.urandom(MiB)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="weights/big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    digest = hashlib.sha256()

    def body():
        yield head
        remaining = size
        while remaining > 0:
            chunk = block[: min(MiB, remaining)]
            digest.update(chunk)
            remaining -= len(chunk)
            yield chunk
        yield tail

    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(len(head) + size + len(tail)),
    }
    started = time.monotonic()
    response = httpx.post(
        f"{base}/api/v1/models/{model}/versions/", content=body(), headers=headers, timeout=900
    )
    elapsed = time.monotonic() - started
    if response.status_code != 201:
        raise SystemExit(f"upload failed: {response.status_code} {response.text[:300]}")
    stored = response.json()["files"][0]["sha256"]
    if stored != digest.hexdigest():
        raise SystemExit("upload checksum differs from what was sent")
    return size / elapsed / 1e6, stored, response.json()["version"]


def big_download(base: str, token: str, model: str, number: int, expected_sha: str) -> float:
    digest = hashlib.sha256()
    received = 0
    started = time.monotonic()
    url = f"{base}/api/v1/models/{model}/versions/{number}/files/weights/big.bin"
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {token}"}, timeout=900) as response:
        if response.status_code != 200:
            raise SystemExit(f"download failed: {response.status_code}")
        for chunk in response.iter_bytes(MiB):
            digest.update(chunk)
            received += len(chunk)
    elapsed = time.monotonic() - started
    if digest.hexdigest() != expected_sha:
        raise SystemExit("downloaded bytes do not match their SHA-256")
    return received / elapsed / 1e6


# -- main -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--versions", type=int, default=10_000, help="versions to seed (default 10000)")
    parser.add_argument("--models", type=int, default=20, help="models to spread them over (default 20)")
    parser.add_argument(
        "--size-mib", type=int, default=1024, help="big upload/download size (default 1024 = 1 GiB)"
    )
    parser.add_argument("--samples", type=int, default=200, help="requests per latency figure (default 200)")
    parser.add_argument("--registrations", type=int, default=200, help="registrations per concurrency level")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (default 8)")
    parser.add_argument("--seed-minutes", type=float, default=15, help="time limit for seeding")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate.")

    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DJANGO_SECRET_KEY": "bench-" + os.urandom(16).hex(),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_CONN_MAX_AGE": "60",
        "REGISTRY_DATA_DIR": str(workdir),
        "REGISTRY_ARTIFACT_ROOT": str(workdir / "artifacts"),
        "REGISTRY_UPLOAD_TEMP_DIR": str(workdir / "uploads"),
        "REGISTRY_MAX_UPLOAD_BYTES": str(max(2 * 1024**3, (args.size_mib + 16) * MiB)),
        "REGISTRY_LOG_LEVEL": "WARNING",
    }
    (workdir / "uploads").mkdir(parents=True)

    print(f"recreating database and migrating ({workdir})", file=sys.stderr)
    recreate_database(database_url)
    migrate(env)
    setup_django(env)
    seeded = seed(args.versions, args.models, time.monotonic() + args.seed_minutes * 60)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port, args.workers, args.threads, timeout=600)
    sampler = RssSampler(server.pid)
    rows: list[tuple[str, str, float]] = []
    try:
        models = seeded["models"]
        auth = {"Authorization": f"Bearer {seeded['publisher_token']}"}
        with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
            client.get("/api/v1/models/")  # warm both workers' imports and connections
            for clients in (1, 16):
                with sampler:
                    rate, errors = registrations(
                        base, seeded["publisher_token"], models, clients, args.registrations, time_limit=120
                    )
                rows.append(
                    (
                        f"registrations, {clients} client(s)",
                        f"{rate:.1f} /s ({errors} errors)",
                        sampler.peak_mib,
                    )
                )

            per_model = seeded["per_model"]
            reads = {
                "version get": [
                    f"/api/v1/models/{m}/versions/{random.randint(1, per_model)}/" for m in models
                ],
                "version list (50/page)": [f"/api/v1/models/{m}/versions/?page_size=50" for m in models],
                "production lookup": [f"/api/v1/models/{m}/versions/production/" for m in models],
                "audit list (50/page)": [
                    "/api/v1/audit/?page_size=50",
                    "/api/v1/audit/?page_size=50&kind=approved",
                ],
            }
            for label, paths in reads.items():
                with sampler:
                    p50, p95, errors = latencies(client, paths, args.samples, time_limit=120)
                rows.append(
                    (label, f"p50 {p50:.1f} ms, p95 {p95:.1f} ms ({errors} errors)", sampler.peak_mib)
                )

        size = args.size_mib * MiB
        with sampler:
            up_rate, sha, number = big_upload(base, seeded["publisher_token"], models[0], size)
        rows.append((f"upload {args.size_mib} MiB", f"{up_rate:.0f} MB/s", sampler.peak_mib))
        with sampler:
            down_rate = big_download(base, seeded["publisher_token"], models[0], number, sha)
        rows.append((f"download {args.size_mib} MiB", f"{down_rate:.0f} MB/s", sampler.peak_mib))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)  # the stored and temporary artifacts (over 1 GiB)

    print()
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}; gunicorn {args.workers} workers x {args.threads} threads (gthread); "
        f"PostgreSQL on 127.0.0.1; {args.versions} versions seeded over {args.models} models in "
        f"{seeded['seconds']:.0f} s."
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'result':<40}  server peak RSS")
    for label, result, rss in rows:
        print(f"{label.ljust(width)}  {result:<40}  {rss:.0f} MiB")


if __name__ == "__main__":
    main()
