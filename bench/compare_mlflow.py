"""Side-by-side benchmark of this registry and MLflow 3.x's model registry, both over plain HTTP (httpx).

    .venv/bin/python bench/compare_mlflow.py --ours http://127.0.0.1:8010 --ours-token "$TOKEN" \\
        --mlflow http://127.0.0.1:5001 [--quick] [--ours-pid PID --mlflow-pid PID]

Installs and starts nothing: both servers already run and were seeded with bench/seed_compare.py
(bench/README.md has the commands). Every workload runs on ours, then on MLflow, then the next
workload, and the whole sequence is repeated (3 times by default); the table shows the medians of
the repeats and ours ÷ MLflow, saying for each row which direction is better. Every loop is bounded
in count and in time; registrations go to fresh models made for each repeat, never to the seeded ones.

Workloads: registration of one small file as a new version (1 client; 16 clients on one model; 16
clients on 16 models) followed by a gap check of the version numbers; get by number, by alias, the
Production and the latest version; a list of 50 versions and of 100 models; a stage move (to
Staging and back) and an alias move; a large upload and download (MB/s, and the servers' RSS when
their pids are given).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

MiB = 1024 * 1024
BOUNDARY = "compare-boundary-7c1d"
SMALL_FILE_BYTES = 1024
SEED_ALIAS = "champion"


# -- server memory ------------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def process_tree(root: int, limit: int = 256) -> list[int]:
    """``root`` and all its descendants (at most ``limit``), from /proc/<pid>/task/<tid>/children."""
    seen: list[int] = []
    todo = [root]
    while todo and len(seen) < limit:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks[:limit]:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return seen


def tree_rss_mib(root: int) -> float:
    return sum(_rss_kib(p) for p in process_tree(root)) / 1024


class RssSampler:
    """Peak summed RSS of a process tree, sampled every 20 ms while active (``None`` pid: does nothing)."""

    def __init__(self, root_pid: int | None):
        self.root_pid = root_pid
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self):
        self.peak_mib = 0.0
        if self.root_pid:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, tree_rss_mib(self.root_pid))
            self._stop.wait(0.02)

    def __exit__(self, *exc):
        if self._thread:
            self._stop.set()
            self._thread.join(timeout=2)


# -- measurements ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Result:
    """One workload on one side in one repeat."""

    count: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else math.nan

    def error(self, what: str, note: str = "") -> None:
        self.errors[what] += 1
        if note and len(self.notes) < 3:
            self.notes.append(note[:300])


def describe(response: httpx.Response) -> str:
    return (
        f"{response.status_code} {response.request.method} {response.request.url.path}: {response.text[:200]}"
    )


def sequential(
    call: Callable[[httpx.Client, int], httpx.Response], client: httpx.Client, count: int, time_limit: float
) -> Result:
    """Up to ``count`` calls one after the other on one connection, within ``time_limit`` seconds."""
    result = Result()
    deadline = time.monotonic() + time_limit
    started = time.perf_counter()
    for i in range(count):
        if time.monotonic() > deadline:
            result.notes.append(f"time limit reached after {i} of {count}")
            break
        t0 = time.perf_counter()
        try:
            response = call(client, i)
        except httpx.HTTPError as exc:
            result.error(type(exc).__name__, repr(exc))
            continue
        result.latencies_ms.append((time.perf_counter() - t0) * 1000)
        if response.status_code == 200:
            result.count += 1
        else:
            result.error(str(response.status_code), describe(response))
    result.seconds = time.perf_counter() - started
    return result


# -- the two sides ------------------------------------------------------------------------------------


class Side:
    """One registry behind HTTP: the calls each workload makes, in the shape that registry offers."""

    label = ""

    def __init__(self, url: str, token: str | None, pid: int | None, keep_alive: bool = False):
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.pid = pid
        self.keep_alive = keep_alive

    def client(self) -> httpx.Client:
        # Without keep-alive every request opens its own connection (see --keep-alive).
        limits = httpx.Limits() if self.keep_alive else httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=120, limits=limits)

    # set-up and checks (not timed)
    def prepare(self, client: httpx.Client) -> None:
        """Set-up before the first workload (not timed)."""

    def create_model(self, client: httpx.Client, name: str) -> None:
        raise NotImplementedError

    def numbers(self, client: httpx.Client, name: str) -> list[int]:
        raise NotImplementedError

    def latest_number(self, client: httpx.Client, name: str) -> int:
        raise NotImplementedError

    def has_production(self, client: httpx.Client, name: str) -> bool:
        raise NotImplementedError

    # timed calls
    def register(self, client: httpx.Client, model: str, data: bytes) -> httpx.Response:
        raise NotImplementedError

    def get_number(self, client, model: str, number: int) -> httpx.Response:
        raise NotImplementedError

    def get_alias(self, client, model: str, alias: str) -> httpx.Response:
        raise NotImplementedError

    def get_production(self, client, model: str) -> httpx.Response:
        raise NotImplementedError

    def get_latest(self, client, model: str) -> httpx.Response:
        raise NotImplementedError

    def list_versions(self, client, model: str) -> httpx.Response:
        raise NotImplementedError

    def list_models(self, client) -> httpx.Response:
        raise NotImplementedError

    def stage(self, client, model: str, number: int, to_staging: bool) -> httpx.Response:
        raise NotImplementedError

    def set_alias(self, client, model: str, alias: str, number: int) -> httpx.Response:
        raise NotImplementedError

    def upload(self, model: str, key: str, size: int) -> tuple[float, str, str]:
        """Send ``size`` bytes as one new version; returns (seconds, sha256, what download() needs)."""
        raise NotImplementedError

    def download(self, ref: str) -> tuple[float, str, int]:
        """Fetch what upload() sent; returns (seconds, sha256, bytes)."""
        raise NotImplementedError


def _streamed(size: int, digest, head: bytes = b"", tail: bytes = b""):
    block = os.urandom(MiB)

    def body():
        yield head
        remaining = size
        while remaining > 0:
            chunk = block[: min(MiB, remaining)]
            digest.update(chunk)
            remaining -= len(chunk)
            yield chunk
        yield tail

    return body(), len(head) + size + len(tail)


def _fetch(url: str, headers: dict) -> tuple[float, str, int]:
    digest = hashlib.sha256()
    received = 0
    started = time.perf_counter()
    with httpx.stream("GET", url, headers=headers, timeout=900) as response:
        if response.status_code != 200:
            raise RuntimeError(f"download failed: {response.status_code} {response.read()[:200]!r}")
        for chunk in response.iter_bytes(MiB):
            digest.update(chunk)
            received += len(chunk)
    return time.perf_counter() - started, digest.hexdigest(), received


class Ours(Side):
    label = "ours"

    def __init__(self, url, token, pid, keep_alive, team: str):
        super().__init__(url, token, pid, keep_alive)
        self.team = team

    def create_model(self, client, name):
        response = client.post("/api/v1/models/", json={"name": name, "team": self.team})
        if response.status_code != 201:
            raise SystemExit(f"ours: creating model {name} failed: {describe(response)}")

    def numbers(self, client, name):
        found: list[int] = []
        url: str | None = f"/api/v1/models/{name}/versions/?page_size=500"
        for _ in range(1000):  # bounded: 500,000 versions
            if url is None:
                break
            response = client.get(url)
            response.raise_for_status()
            body = response.json()
            found += [v["version"] for v in body["results"]]
            url = body.get("next")
        return found

    def latest_number(self, client, name):
        response = client.get(f"/api/v1/models/{name}/versions/latest/")
        return response.json()["version"] if response.status_code == 200 else 0

    def has_production(self, client, name):
        return self.get_production(client, name).status_code == 200

    def register(self, client, model, data):
        body = (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
                '{"metrics": {"accuracy": 0.5}, "tags": {"bench": "compare"}}\r\n'
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="model.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        return client.post(
            f"/api/v1/models/{model}/versions/",
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )

    def get_number(self, client, model, number):
        return client.get(f"/api/v1/models/{model}/versions/{number}/")

    def get_alias(self, client, model, alias):
        return client.get(f"/api/v1/models/{model}/versions/@{alias}/")

    def get_production(self, client, model):
        return client.get(f"/api/v1/models/{model}/versions/production/")

    def get_latest(self, client, model):
        return client.get(f"/api/v1/models/{model}/versions/latest/")

    def list_versions(self, client, model):
        return client.get(f"/api/v1/models/{model}/versions/", params={"page_size": 50})

    def list_models(self, client):
        return client.get("/api/v1/models/", params={"page_size": 100})

    def stage(self, client, model, number, to_staging):
        return client.post(
            f"/api/v1/models/{model}/versions/{number}/transition/",
            json={"to": "staging" if to_staging else "none"},
        )

    def set_alias(self, client, model, alias, number):
        return client.put(f"/api/v1/models/{model}/aliases/{alias}/", json={"version": number})

    def upload(self, model, key, size):
        digest = hashlib.sha256()
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body, length = _streamed(size, digest, head, f"\r\n--{BOUNDARY}--\r\n".encode())
        headers = {
            **self.headers,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(length),
        }
        started = time.perf_counter()
        response = httpx.post(
            f"{self.url}/api/v1/models/{model}/versions/", content=body, headers=headers, timeout=900
        )
        seconds = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"ours: upload failed: {describe(response)}")
        if response.json()["files"][0]["sha256"] != digest.hexdigest():
            raise RuntimeError("ours: the stored SHA-256 differs from what was sent")
        ref = f"{self.url}/api/v1/models/{model}/versions/{response.json()['version']}/files/big.bin"
        return seconds, digest.hexdigest(), ref

    def download(self, ref):
        return _fetch(ref, self.headers)


def mlflow_run(client: httpx.Client, experiment: str) -> tuple[str, str]:
    """A new run in ``experiment`` (created when missing); returns (run id, artifact root URI)."""
    found = client.get("/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": experiment})
    if found.status_code == 200:
        experiment_id = found.json()["experiment"]["experiment_id"]
    else:
        made = client.post("/api/2.0/mlflow/experiments/create", json={"name": experiment})
        made.raise_for_status()
        experiment_id = made.json()["experiment_id"]
    run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id})
    run.raise_for_status()
    info = run.json()["run"]["info"]
    return info["run_id"], info["artifact_uri"]


class MLflow(Side):
    label = "MLflow"
    API = "/api/2.0/mlflow"

    def create_model(self, client, name):
        response = client.post(f"{self.API}/registered-models/create", json={"name": name})
        if response.status_code != 200:
            raise SystemExit(f"MLflow: creating model {name} failed: {describe(response)}")

    def numbers(self, client, name):
        found: list[int] = []
        token = None
        for _ in range(1000):  # bounded: 1000 pages of 1000
            params = {"filter": f"name='{name}'", "max_results": 1000}
            if token:
                params["page_token"] = token
            response = client.get(f"{self.API}/model-versions/search", params=params)
            response.raise_for_status()
            body = response.json()
            found += [int(v["version"]) for v in body.get("model_versions", [])]
            token = body.get("next_page_token")
            if not token:
                break
        return found

    def latest_number(self, client, name):
        response = client.get(
            f"{self.API}/model-versions/search",
            params={"filter": f"name='{name}'", "max_results": 1, "order_by": "version_number DESC"},
        )
        versions = response.json().get("model_versions", []) if response.status_code == 200 else []
        return int(versions[0]["version"]) if versions else 0

    def has_production(self, client, name):
        response = self.get_production(client, name)
        return response.status_code == 200 and bool(response.json().get("model_versions"))

    def prepare(self, client: httpx.Client) -> None:
        """One run holds this benchmark's artifacts: MLflow 3 accepts an ``mlflow-artifacts:`` source only
        inside the artifact root of the run (or logged model) named by ``run_id``."""
        self.run_id, self.artifact_root = mlflow_run(client, "compare-bench")

    def _artifact_url(self, source: str) -> str:
        return "/api/2.0/mlflow-artifacts/artifacts/" + source.removeprefix("mlflow-artifacts:/")

    def register(self, client, model, data):
        # What a pipeline does to register one file: upload it through the tracking server's artifact
        # proxy into its run's artifacts, then create the version pointing at it.
        source = f"{self.artifact_root}/{model}/{uuid.uuid4().hex}"
        put = client.put(f"{self._artifact_url(source)}/model.bin", content=data)
        if put.status_code != 200:
            return put
        return client.post(
            f"{self.API}/model-versions/create",
            json={
                "name": model,
                "source": source,
                "run_id": self.run_id,
                "tags": [{"key": "bench", "value": "compare"}],
            },
        )

    def get_number(self, client, model, number):
        return client.get(f"{self.API}/model-versions/get", params={"name": model, "version": number})

    def get_alias(self, client, model, alias):
        return client.get(f"{self.API}/registered-models/alias", params={"name": model, "alias": alias})

    def get_production(self, client, model):
        return client.post(
            f"{self.API}/registered-models/get-latest-versions",
            json={"name": model, "stages": ["Production"]},
        )

    def get_latest(self, client, model):
        return client.get(
            f"{self.API}/model-versions/search",
            params={"filter": f"name='{model}'", "max_results": 1, "order_by": "version_number DESC"},
        )

    def list_versions(self, client, model):
        return client.get(
            f"{self.API}/model-versions/search", params={"filter": f"name='{model}'", "max_results": 50}
        )

    def list_models(self, client):
        return client.get(f"{self.API}/registered-models/search", params={"max_results": 100})

    def stage(self, client, model, number, to_staging):
        return client.post(
            f"{self.API}/model-versions/transition-stage",
            json={
                "name": model,
                "version": str(number),
                "stage": "Staging" if to_staging else "None",
                "archive_existing_versions": False,
            },
        )

    def set_alias(self, client, model, alias, number):
        return client.post(
            f"{self.API}/registered-models/alias",
            json={"name": model, "alias": alias, "version": str(number)},
        )

    def upload(self, model, key, size):
        digest = hashlib.sha256()
        body, length = _streamed(size, digest)
        source = f"{self.artifact_root}/{model}/{key}"
        url = f"{self.url}{self._artifact_url(source)}/big.bin"
        headers = {**self.headers, "Content-Length": str(length), "Content-Type": "application/octet-stream"}
        started = time.perf_counter()
        response = httpx.put(url, content=body, headers=headers, timeout=900)
        if response.status_code != 200:
            raise RuntimeError(f"MLflow: upload failed: {describe(response)}")
        created = httpx.post(
            f"{self.url}{self.API}/model-versions/create",
            json={"name": model, "source": source, "run_id": self.run_id},
            headers=self.headers,
            timeout=60,
        )
        seconds = time.perf_counter() - started
        if created.status_code != 200:
            raise RuntimeError(f"MLflow: creating the big version failed: {describe(created)}")
        return seconds, digest.hexdigest(), url

    def download(self, ref):
        return _fetch(ref, self.headers)


# -- workloads ------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """Counts and limits; the same for both sides."""

    registrations_1: int
    registrations_16: int
    samples: int
    moves: int
    size_mib: int
    time_limit: float


@dataclass
class Seeded:
    models: list[str]
    per_model: int


def registration(side: Side, models: list[str], clients: int, total: int, time_limit: float) -> Result:
    """``total`` registrations from ``clients`` threads (thread i uses models[i % len]), then a gap check."""
    result = Result()
    lock = threading.Lock()
    counter = iter(range(total))
    acknowledged: Counter = Counter()
    deadline = time.monotonic() + time_limit

    def worker(index: int) -> None:
        model = models[index % len(models)]
        with side.client() as client:
            while time.monotonic() < deadline:
                with lock:
                    if next(counter, None) is None:
                        return
                t0 = time.perf_counter()
                try:
                    response = side.register(client, model, os.urandom(SMALL_FILE_BYTES))
                except httpx.HTTPError as exc:
                    with lock:
                        result.error(type(exc).__name__, repr(exc))
                    continue
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    result.latencies_ms.append(elapsed)
                    if response.status_code in (200, 201):
                        result.count += 1
                        acknowledged[model] += 1
                    else:
                        result.error(str(response.status_code), describe(response))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(worker, range(clients)))
    result.seconds = time.perf_counter() - started
    if result.count < total:
        result.notes.append(f"{result.count} of {total} registered within {time_limit:.0f} s")

    gaps = 0
    with side.client() as client:
        for model in models:
            found = sorted(side.numbers(client, model))
            if found != list(range(1, len(found) + 1)):
                gaps += 1
                result.notes.append(f"{model}: version numbers have gaps: {found[:20]}...")
            if len(found) != acknowledged[model]:
                result.notes.append(
                    f"{model}: {len(found)} versions stored, {acknowledged[model]} acknowledged"
                )
    result.values["models with gaps"] = gaps
    return result


def reads(side: Side, client: httpx.Client, kind: str, picks: list[tuple[str, int]], plan: Plan) -> Result:
    calls = {
        "get version by number": lambda c, i: side.get_number(c, picks[i][0], picks[i][1]),
        "get version by alias": lambda c, i: side.get_alias(c, picks[i][0], SEED_ALIAS),
        "production lookup": lambda c, i: side.get_production(c, picks[i][0]),
        "latest lookup": lambda c, i: side.get_latest(c, picks[i][0]),
        "list 50 versions": lambda c, i: side.list_versions(c, picks[i][0]),
        "list 100 models": lambda c, i: side.list_models(c),
    }
    return sequential(calls[kind], client, plan.samples, plan.time_limit)


def stage_moves(side: Side, client: httpx.Client, models: list[str], plan: Plan) -> Result:
    """Version 1 of successive models to Staging and back: each is one timed request."""

    def call(c, i):
        return side.stage(c, models[(i // 2) % len(models)], 1, to_staging=i % 2 == 0)

    return sequential(call, client, 2 * plan.moves, plan.time_limit)


def alias_moves(
    side: Side, client: httpx.Client, models: list[str], alias: str, state: dict, plan: Plan
) -> Result:
    """Move ``alias`` between versions 1 and 2 of successive models: every request really moves it."""

    def call(c, i):
        model = models[i % len(models)]
        state[model] = 2 if state.get(model) == 1 else 1
        return side.set_alias(c, model, alias, state[model])

    return sequential(call, client, plan.moves, plan.time_limit)


def transfer(side: Side, model: str, key: str, plan: Plan) -> tuple[Result, Result]:
    size = plan.size_mib * MiB
    up, down = Result(), Result()
    sampler = RssSampler(side.pid)
    if side.pid:
        time.sleep(0.5)
        up.values["idle RSS MiB"] = tree_rss_mib(side.pid)
    try:
        with sampler:
            seconds, sha, ref = side.upload(model, key, size)
    except (RuntimeError, httpx.HTTPError) as exc:
        up.error("upload", str(exc))
        return up, down
    up.count, up.seconds = 1, seconds
    up.values["MB/s"] = size / seconds / 1e6
    if side.pid:
        up.values["peak RSS MiB"] = sampler.peak_mib
        time.sleep(0.5)
        down.values["idle RSS MiB"] = tree_rss_mib(side.pid)
    try:
        with sampler:
            seconds, got, received = side.download(ref)
    except (RuntimeError, httpx.HTTPError) as exc:
        down.error("download", str(exc))
        return up, down
    if got != sha or received != size:
        down.error("checksum", f"downloaded {received} bytes, SHA-256 {got[:12]}..., sent {sha[:12]}...")
    down.count, down.seconds = 1, seconds
    down.values["MB/s"] = received / seconds / 1e6
    if side.pid:
        down.values["peak RSS MiB"] = sampler.peak_mib
    return up, down


# -- the run ---------------------------------------------------------------------------------------------


ROWS: list[str] = []  # workloads in table order, filled by run()


def check_seed(sides: list[Side], prefix: str, n_models: int) -> Seeded:
    models = [f"{prefix}-{i:03d}" for i in range(n_models)]
    per_model = None
    for side in sides:
        with side.client() as client:
            for name in (models[0], models[-1]):
                n = side.latest_number(client, name)
                if n < 3:
                    raise SystemExit(
                        f"{side.label}: model {name} has {n} versions; seed both sides first "
                        "(bench/seed_compare.py) with the same --models and --prefix"
                    )
                per_model = n if per_model is None else min(per_model, n)
            if not side.has_production(client, models[0]):
                raise SystemExit(f"{side.label}: {models[0]} has no Production version; seed it first")
    return Seeded(models=models, per_model=per_model)


def run(args, sides: list[Side], plan: Plan, seeded: Seeded) -> dict[tuple[str, str], list[Result]]:
    run_id = uuid.uuid4().hex[:8]
    results: dict[tuple[str, str], list[Result]] = {}
    alias = f"bench-{run_id}"
    alias_state: dict[str, dict] = {side.label: {} for side in sides}
    deadline = time.monotonic() + args.max_minutes * 60
    seeded_models = seeded.models
    clients = {side.label: side.client() for side in sides}

    def record(workload: str, side: Side, result: Result) -> None:
        if workload not in ROWS:
            ROWS.append(workload)
        results.setdefault((workload, side.label), []).append(result)
        if "MB/s" in result.values:
            figure = f"{result.values['MB/s']:8.1f} MB/s"
        else:
            figure = f"{result.rate():8.1f} /s  p50 {percentile(result.latencies_ms, 0.5):7.1f} ms"
        errors = sum(result.errors.values())
        print(
            f"  {workload:<34} {side.label:<6} {result.count:>5} ok  {errors:>3} errors  {figure}",
            file=sys.stderr,
            flush=True,
        )

    try:
        for side in sides:
            side.prepare(clients[side.label])
        for side in sides:  # warm both sides: imports, connections, caches (not timed)
            for i in range(10):
                side.get_number(clients[side.label], seeded_models[i % len(seeded_models)], 1)
        for repeat in range(args.repeats):
            if time.monotonic() > deadline:
                print(f"--max-minutes reached: stopping after {repeat} repeat(s)", file=sys.stderr)
                break
            print(f"repeat {repeat + 1} of {args.repeats}", file=sys.stderr, flush=True)
            rng = random.Random(repeat)  # the same picks on both sides
            picks = [
                (rng.choice(seeded_models), rng.randint(1, seeded.per_model)) for _ in range(plan.samples)
            ]
            scenarios = [
                ("register, 1 client", 1, 1, plan.registrations_1),
                ("register, 16 clients, 1 model", 16, 1, plan.registrations_16),
                ("register, 16 clients, 16 models", 16, 16, plan.registrations_16),
            ]
            for s_index, (label, n_clients, n_models, total) in enumerate(scenarios):
                names = [f"{args.prefix}-reg-{run_id}-r{repeat}-s{s_index}-{k:02d}" for k in range(n_models)]
                for side in sides:
                    for name in names:
                        side.create_model(clients[side.label], name)
                    record(label, side, registration(side, names, n_clients, total, plan.time_limit))
            for kind in (
                "get version by number",
                "get version by alias",
                "production lookup",
                "latest lookup",
                "list 50 versions",
                "list 100 models",
            ):
                for side in sides:
                    record(kind, side, reads(side, clients[side.label], kind, picks, plan))
            for side in sides:
                record(
                    "stage move (to Staging, back)",
                    side,
                    stage_moves(side, clients[side.label], seeded_models, plan),
                )
            for side in sides:
                result = alias_moves(
                    side, clients[side.label], seeded_models, alias, alias_state[side.label], plan
                )
                record("alias move", side, result)
            big = f"{args.prefix}-big-{run_id}-r{repeat}"
            for side in sides:
                side.create_model(clients[side.label], big)
                up, down = transfer(side, big, f"r{repeat}", plan)
                record(f"upload {plan.size_mib} MiB", side, up)
                record(f"download {plan.size_mib} MiB", side, down)
    finally:
        for client in clients.values():
            client.close()
    return results


def median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def fmt(value: float, digits: int = 1) -> str:
    return "—" if math.isnan(value) else f"{value:,.{digits}f}"


def table(results: dict[tuple[str, str], list[Result]]) -> list[str]:
    """Markdown rows: medians over the repeats, ours ÷ MLflow and which direction is better."""
    lines = [
        "| workload | metric | ours | MLflow | ours ÷ MLflow | ours better if ratio |",
        "|---|---|---:|---:|---:|---|",
    ]

    def row(workload, metric, ours, theirs, higher_better, digits=1):
        ratio = ours / theirs if theirs and not math.isnan(ours) and not math.isnan(theirs) else math.nan
        better = "> 1 (higher is better)" if higher_better else "< 1 (lower is better)"
        lines.append(
            f"| {workload} | {metric} | {fmt(ours, digits)} | {fmt(theirs, digits)} | {fmt(ratio, 2)} | {better} |"
        )

    for workload in ROWS:
        ours, theirs = results.get((workload, "ours"), []), results.get((workload, "MLflow"), [])
        if workload.startswith(("upload", "download")):
            row(
                workload,
                "MB/s",
                median([r.values.get("MB/s", math.nan) for r in ours]),
                median([r.values.get("MB/s", math.nan) for r in theirs]),
                True,
                0,
            )
            for metric in ("idle RSS MiB", "peak RSS MiB"):
                if any(metric in r.values for r in ours + theirs):
                    row(
                        workload,
                        f"server {metric}",
                        median([r.values.get(metric, math.nan) for r in ours]),
                        median([r.values.get(metric, math.nan) for r in theirs]),
                        False,
                        0,
                    )
        else:
            row(
                workload,
                "rate /s",
                median([r.rate() for r in ours]),
                median([r.rate() for r in theirs]),
                True,
            )
            for metric, q in (("p50 ms", 0.5), ("p95 ms", 0.95)):
                row(
                    workload,
                    metric,
                    median([percentile(r.latencies_ms, q) for r in ours]),
                    median([percentile(r.latencies_ms, q) for r in theirs]),
                    False,
                )
        errors_ours = sum(sum(r.errors.values()) for r in ours)
        errors_theirs = sum(sum(r.errors.values()) for r in theirs)
        gaps = [sum(int(r.values.get("models with gaps", 0)) for r in rs) for rs in (ours, theirs)]
        extra = (
            f"; models with number gaps: ours {gaps[0]}, MLflow {gaps[1]}"
            if workload.startswith("register")
            else ""
        )
        lines.append(
            f"| {workload} | errors, all repeats | {errors_ours} | {errors_theirs} | | fewer is better{extra} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ours", required=True, help="our registry's base URL, e.g. http://127.0.0.1:8010")
    parser.add_argument("--ours-token", required=True, help="API token of a Publisher of --ours-team")
    parser.add_argument("--ours-team", default="cmp-team", help="team owning the models (default cmp-team)")
    parser.add_argument(
        "--mlflow", required=True, help="MLflow tracking server URL, e.g. http://127.0.0.1:5001"
    )
    parser.add_argument("--mlflow-token", help="bearer token for MLflow, if it wants one")
    parser.add_argument("--ours-pid", type=int, help="pid whose process tree's RSS is ours (manage.py serve)")
    parser.add_argument(
        "--mlflow-pid", type=int, help="pid whose process tree's RSS is MLflow's (mlflow server)"
    )
    parser.add_argument("--prefix", default="cmp", help="seeded model name prefix (default cmp)")
    parser.add_argument("--models", type=int, default=100, help="seeded models (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the whole sequence (default 3)")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run of about a minute")
    parser.add_argument(
        "--samples", type=int, help="requests per read latency figure (default 200; quick 10)"
    )
    parser.add_argument(
        "--registrations",
        type=int,
        help="registrations with 16 clients, a quarter of it with 1 (default 320; quick 16)",
    )
    parser.add_argument("--size-mib", type=int, help="upload/download size (default 1024 = 1 GiB; quick 4)")
    parser.add_argument(
        "--max-minutes", type=float, default=60, help="no new repeat starts after this (default 60)"
    )
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="reuse connections (default: one connection per request; see bench/README.md)",
    )
    parser.add_argument("--json", type=Path, help="also write every raw figure to this file")
    args = parser.parse_args()

    quick = args.quick
    registrations_16 = args.registrations or (16 if quick else 320)
    samples = args.samples or (10 if quick else 200)
    plan = Plan(
        registrations_1=max(1, registrations_16 // 4),
        registrations_16=registrations_16,
        samples=samples,
        moves=max(1, samples // 2),
        size_mib=args.size_mib or (4 if quick else 1024),
        time_limit=10 if quick else 120,
    )
    sides: list[Side] = [
        Ours(args.ours, args.ours_token, args.ours_pid, args.keep_alive, args.ours_team),
        MLflow(args.mlflow, args.mlflow_token, args.mlflow_pid, args.keep_alive),
    ]
    seeded = check_seed(sides, args.prefix, args.models)
    load_before = os.getloadavg()
    started = time.monotonic()
    results = run(args, sides, plan, seeded)
    minutes = (time.monotonic() - started) / 60
    load_after = os.getloadavg()

    repeats = max((len(v) for v in results.values()), default=0)
    print()
    print(
        f"Machine: {os.cpu_count()} cores, {_cpu_model()}, {platform.python_implementation()} "
        f"{platform.python_version()} (client); load average before {_load(load_before)}, "
        f"after {_load(load_after)}; {minutes:.1f} min."
    )
    print(
        f"Seed: {len(seeded.models)} models x {seeded.per_model} versions. Medians of {repeats} repeat(s), "
        f"ours then MLflow for each workload; {plan.samples} requests per read figure, {plan.moves} stage "
        f"moves (x2 requests) and alias moves, {plan.registrations_1}/{plan.registrations_16} registrations "
        f"(1/16 clients), {plan.size_mib} MiB transfer; "
        + ("connections reused (--keep-alive)." if args.keep_alive else "one connection per request.")
    )
    print()
    for line in table(results):
        print(line)
    notes = [
        f"- {workload}, {label}: {note}"
        for (workload, label), rs in results.items()
        for r in rs
        for note in r.notes[:2]
    ]
    if notes:
        print("\nNotes:")
        print("\n".join(notes[:40]))
    if args.json:
        raw = {
            f"{workload} | {label}": [
                {
                    "count": r.count,
                    "seconds": r.seconds,
                    "p50_ms": percentile(r.latencies_ms, 0.5),
                    "p95_ms": percentile(r.latencies_ms, 0.95),
                    "errors": dict(r.errors),
                    **r.values,
                }
                for r in rs
            ]
            for (workload, label), rs in results.items()
        }
        args.json.write_text(
            json.dumps({"load_before": load_before, "load_after": load_after, "results": raw}, indent=1)
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except FileNotFoundError:
        pass
    return platform.processor() or platform.machine()


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
