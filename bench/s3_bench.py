"""Direct-to-bucket transfer benchmark: upload and download one large artifact through the registry.

Starts an S3 API server (moto) and the registry under gunicorn on 127.0.0.1, both as subprocesses,
registers one file with the direct-upload API (parts PUT straight to the bucket, then completion,
which makes the server assemble the file and stream it back to check its SHA-256), then downloads it
twice: once following the presigned redirect and once streamed through the app server. Prints MB/s
for each step and the app server's peak RSS during each.

    .venv/bin/python bench/s3_bench.py              # 1 GiB
    .venv/bin/python bench/s3_bench.py --size 256M  # smaller

Ports: --port (app, default 8120) and --s3-port (default 8121). Needs about --size of free disk for the
generated file plus what moto spools.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
from _common import ROOT, process_tree, rss_kib
from botocore.config import Config

PYTHON = sys.executable
BIN = Path(PYTHON).parent
BUCKET = "registry-bench"
MODEL = "bench-model"
MiB = 1024 * 1024


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([KMG]?)(i?B)?", text.strip(), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1G, 256M, 1048576)")
    number, unit = int(match.group(1)), match.group(2).upper()
    return number * {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB}[unit]


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=2)
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


class PeakRss:
    """Samples the RSS of a process and its children every 50 ms; ``phase()`` resets the peak."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            worker_peak = max((rss_kib(p) for p in process_tree(self.pid)), default=0)
            self.peak = max(self.peak, worker_peak)

    @contextlib.contextmanager
    def phase(self):
        self.peak = max(rss_kib(p) for p in process_tree(self.pid))
        yield self
        time.sleep(0.1)

    def stop(self):
        self._stop.set()


def make_file(path: Path, size: int) -> str:
    """Write ``size`` pseudo-random bytes (incompressible, reproducible) and return their SHA-256."""
    digest = hashlib.sha256()
    block = hashlib.sha256(b"seed").digest() * (MiB // 32)
    with path.open("wb") as fh:
        written, counter = 0, 0
        while written < size:
            # Vary each MiB cheaply so no two parts are identical.
            chunk = counter.to_bytes(8, "big") + block[8:]
            chunk = chunk[: size - written]
            fh.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            counter += 1
    return digest.hexdigest()


class FileSlice:
    """A read-only window onto a file, streamed to httpx without loading the part into memory."""

    def __init__(self, path: Path, offset: int, size: int):
        self.path, self.offset, self.size = path, offset, size

    def __iter__(self):
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            left = self.size
            while left > 0:
                data = fh.read(min(MiB, left))
                if not data:
                    return
                left -= len(data)
                yield data


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=1024 * MiB, help="file size (default 1G)")
    parser.add_argument("--port", type=int, default=8120)
    parser.add_argument("--s3-port", type=int, default=8121)
    parser.add_argument("--part-size", type=parse_size, default=64 * MiB)
    parser.add_argument("--parallel", type=int, default=4, help="concurrent part uploads")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="registry-s3-bench-"))
    s3_url = f"http://127.0.0.1:{args.s3_port}"
    app_url = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "REGISTRY_DATA_DIR": str(work),
        "REGISTRY_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": s3_url,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "REGISTRY_UPLOAD_PART_SIZE": str(args.part_size),
        "REGISTRY_MAX_UPLOAD_BYTES": str(max(args.size * 2, 1024 * MiB)),
        "REGISTRY_LOG_LEVEL": "WARNING",
    }
    procs: list[subprocess.Popen] = []
    results: list[tuple[str, float, float, int]] = []
    try:
        procs.append(
            subprocess.Popen(
                [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(args.s3_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for(s3_url)
        boto3.client(
            "s3",
            endpoint_url=s3_url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench-secret",
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        ).create_bucket(Bucket=BUCKET)

        subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        token = (
            subprocess.run(
                [PYTHON, "manage.py", "shell", "-c", SETUP],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )

        print(f"generating {args.size / MiB:.0f} MiB ...", flush=True)
        data_path = work / "artifact.bin"
        sha256 = make_file(data_path, args.size)

        def serve(redirect: bool) -> subprocess.Popen:
            proc = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "registry_site.wsgi",
                    "-b",
                    f"127.0.0.1:{args.port}",
                    "-w",
                    "1",
                    "--threads",
                    "4",
                    "--timeout",
                    "900",
                ],
                cwd=ROOT,
                env={**env, "REGISTRY_S3_REDIRECT_DOWNLOADS": "1" if redirect else "0"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(proc)
            wait_for(f"{app_url}/api/v1/health/")
            return proc

        app = serve(redirect=True)
        rss = PeakRss(app.pid)
        auth = {"Authorization": f"Bearer {token}"}
        with (
            httpx.Client(base_url=app_url, headers=auth, timeout=900) as api,
            httpx.Client(timeout=900) as s3,
        ):
            begin = api.post(
                f"/api/v1/models/{MODEL}/uploads/",
                json={
                    "metadata": {"description": "benchmark artifact"},
                    "files": [{"path": "weights/model.bin", "size": args.size, "sha256": sha256}],
                },
            )
            if begin.is_error:
                raise SystemExit(f"upload start failed: {begin.status_code} {begin.text}")
            session = begin.json()
            parts = session["files"][0]["parts"]

            def put(part):
                body = FileSlice(data_path, part["offset"], part["size"])
                answer = s3.put(
                    part["url"], content=iter(body), headers={"Content-Length": str(part["size"])}
                )
                answer.raise_for_status()

            with rss.phase():
                start = time.monotonic()
                with ThreadPoolExecutor(args.parallel) as pool:
                    list(pool.map(put, parts))
                elapsed = time.monotonic() - start
            results.append(
                (f"upload parts to bucket ({len(parts)} x PUT)", elapsed, args.size / elapsed, rss.peak)
            )

            with rss.phase():
                start = time.monotonic()
                done = api.post(session["complete_url"].replace(app_url, ""))
                elapsed = time.monotonic() - start
            if done.is_error:
                raise SystemExit(f"completion failed: {done.status_code} {done.text}")
            assert done.json()["status"] == "ready", done.text
            results.append(("complete (assemble + server SHA-256)", elapsed, args.size / elapsed, rss.peak))

            url = f"/api/v1/models/{MODEL}/versions/1/files/weights/model.bin"
            with rss.phase():
                elapsed, header_sha = download(api, url, sha256)
            results.append(
                (f"download, 302 to bucket ({header_sha})", elapsed, args.size / elapsed, rss.peak)
            )
        rss.stop()
        app.send_signal(signal.SIGTERM)
        app.wait(30)

        app = serve(redirect=False)
        rss = PeakRss(app.pid)
        with httpx.Client(base_url=app_url, headers=auth, timeout=900) as api:
            with rss.phase():
                elapsed, header_sha = download(api, url, sha256)
            results.append(("download, streamed by the app", elapsed, args.size / elapsed, rss.peak))
        rss.stop()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(30)
                if proc.poll() is None:
                    proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{args.size / MiB:.0f} MiB file, parts of {args.part_size / MiB:.0f} MiB, on {os.cpu_count()} CPUs"
    )
    print(f"{'step':<48} {'seconds':>8} {'MB/s':>8} {'app peak RSS':>13}")
    for name, elapsed, rate, peak in results:
        print(f"{name:<48} {elapsed:8.1f} {rate / 1e6:8.1f} {peak / 1024:10.0f} MiB")
    return 0


def download(api: httpx.Client, url: str, sha256: str) -> tuple[float, str]:
    """GET the file (following a redirect), hash it while streaming, and check it against the header."""
    start = time.monotonic()
    digest = hashlib.sha256()
    with api.stream("GET", url, follow_redirects=True) as answer:
        answer.raise_for_status()
        announced = (answer.history[0].headers if answer.history else answer.headers).get("X-Checksum-Sha256")
        for chunk in answer.iter_bytes(MiB):
            digest.update(chunk)
    elapsed = time.monotonic() - start
    if digest.hexdigest() != sha256 or announced != sha256:
        raise SystemExit(f"download checksum mismatch: got {digest.hexdigest()}, header {announced}")
    return elapsed, "sha256 ok"


SETUP = f"""
from django.contrib.auth.models import Group, Permission, User
from models_app import services
from models_app.role_permissions import ensure_role_groups
from models_app.services import api_token_create
ensure_role_groups(Group, Permission)
team = Group.objects.get_or_create(name="bench-team")[0]
user = User.objects.create_user("bench", password="bench-password-123")
user.groups.add(team, Group.objects.get(name="Publishers"))
user = User.objects.get(pk=user.pk)
services.registered_model_create(name="{MODEL}", team=team, actor=user)
print(api_token_create(user=user, name="bench")[1])
"""


if __name__ == "__main__":
    raise SystemExit(main())
