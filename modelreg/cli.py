"""``modelreg``: the registry's command-line client for training and deployment pipelines.

Configured by ``MODELREG_URL`` and ``MODELREG_TOKEN`` (or ``--url`` / ``--token``). It talks to the
REST API only (``/api/v1/``), streams files in both directions with progress bars, sends an
``Idempotency-Key`` with every registration so a retried push never creates two versions, and verifies
the SHA-256 of every file it pulls before anything lands in the output directory.

Exit codes: 0 success, 1 the registry refused or a check failed, 2 bad usage, 3 the registry could not
be reached.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from tqdm import tqdm

from modelreg import transfer

DEFAULT_URL = "http://127.0.0.1:8000"
CHUNK = 1024 * 1024
RETRIES = 3
RETRY_STATUSES = frozenset({502, 503, 504})


class CliError(Exception):
    """A failure to report on stderr with an exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


# -- HTTP ----------------------------------------------------------------------------------------------


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        parts = []
        for err in errors:
            where = f" [{err['attr']}]" if err.get("attr") else ""
            parts.append(f"{err.get('detail')}{where} ({err.get('code')})")
        return f"HTTP {response.status_code}: " + "; ".join(parts)
    return f"HTTP {response.status_code}: {json.dumps(body)[:300]}"


class Registry:
    """A thin client of the registry's REST API."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 60.0):
        headers = {"User-Agent": "modelreg/1", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base = url.rstrip("/") + "/api/v1/"
        self.http = httpx.Client(
            base_url=self.base, headers=headers, timeout=httpx.Timeout(timeout, connect=10.0), trust_env=True
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise CliError(
                f"Cannot reach the registry at {self.base} ({exc.__class__.__name__}: {exc}).", 3
            ) from exc
        if response.status_code >= 400:
            raise CliError(_error_message(response))
        return response

    def get(self, path: str, **kwargs) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, body: dict) -> Any:
        return self.request("POST", path, json=body).json()

    def pages(self, path: str, params: dict | None = None, *, limit: int = 10_000) -> Iterator[dict]:
        """Every item of a paginated list (bounded by ``limit``)."""
        page = self.get(path, params=params)
        count = 0
        while True:
            for item in page.get("results", []):
                yield item
                count += 1
                if count >= limit:
                    return
            if not page.get("next"):
                return
            page = self.get(page["next"])


def model_path(model: str) -> str:
    return f"models/{quote(model, safe='')}/"


def version_path(model: str, ref: str | int) -> str:
    return f"{model_path(model)}versions/{quote(str(ref), safe='@')}/"


# -- push ----------------------------------------------------------------------------------------------


def _git(*args: str, cwd: str) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            ["git", *args],  # noqa: S607 - git from PATH, like any developer tool
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _strip_credentials(url: str) -> str:
    """A remote URL without any user name or token in it (``https://tok@host/x`` -> ``https://host/x``)."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def detect_git(cwd: str) -> dict | None:
    """The repository, commit, branch and dirty state of the working directory, or None outside git."""
    if _git("rev-parse", "--is-inside-work-tree", cwd=cwd) != "true":
        return None
    commit = _git("rev-parse", "HEAD", cwd=cwd) or ""
    branch = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=cwd) or ""
    if branch == "HEAD":  # detached, as in most CI checkouts
        branch = (
            os.environ.get("GITHUB_HEAD_REF")
            or os.environ.get("GITHUB_REF_NAME")
            or os.environ.get("CI_COMMIT_REF_NAME")
            or ""
        )
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    remote = _git("config", "--get", "remote.origin.url", cwd=cwd) or ""
    source = {
        "commit": commit,
        "branch": branch,
        "dirty": bool(status),
        "repository": _strip_credentials(remote),
    }
    return {k: v for k, v in source.items() if v != "" or k == "dirty"}


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(items: list[str], *, option: str, number: bool) -> dict:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"{option} expects key=value, got {item!r}.", 2)
        if number:
            try:
                out[key] = float(value) if any(c in value.lower() for c in ".en") else int(value)
            except ValueError:
                raise CliError(f"{option} {key}: {value!r} is not a number.", 2) from None
        else:
            out[key] = _parse_value(value)
    return out


def _json_file(path: str | None, *, option: str) -> dict:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"{option}: cannot read a JSON object from {path} ({exc}).", 2) from None
    if not isinstance(data, dict):
        raise CliError(f"{option}: {path} must hold a JSON object.", 2)
    return data


def parse_dataset(text: str) -> dict:
    """``uri[@version]``; an ``@`` inside the URI's authority (user@host) is not a version."""
    uri, sep, version = text.rpartition("@")
    if sep and uri and version and "/" not in version and ":" not in version:
        return {"uri": uri, "version": version}
    return {"uri": text}


@dataclass
class LocalFile:
    """A file to push: where it is on disk and its path inside the version."""

    source: Path
    label: str
    size: int
    sha256: str = ""


def collect_files(paths: list[str]) -> list[LocalFile]:
    """Files given directly keep their name; a directory's files keep their path inside it."""
    found: dict[str, LocalFile] = {}
    for given in paths:
        path = Path(given)
        if path.is_file():
            entries = [(path, path.name)]
        elif path.is_dir():
            entries = sorted(
                (p, p.relative_to(path).as_posix())
                for p in path.rglob("*")
                if p.is_file() and ".git" not in p.relative_to(path).parts
            )
        else:
            raise CliError(f"{given}: no such file or directory.", 2)
        for source, label in entries:
            if label in found:
                raise CliError(
                    f"Two files would be stored as {label!r} ({found[label].source} and {source}).", 2
                )
            found[label] = LocalFile(source=source, label=label, size=source.stat().st_size)
    if not found:
        raise CliError("Nothing to push: the given directories are empty.", 2)
    return list(found.values())


def _bar(total: int, desc: str, quiet: bool) -> tqdm:
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=quiet or None,
        file=sys.stderr,
    )


def hash_files(files: list[LocalFile], *, quiet: bool) -> None:
    with _bar(sum(f.size for f in files), "hashing", quiet) as bar:
        for f in files:
            digest = hashlib.sha256()
            with f.source.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
                    bar.update(len(chunk))
            f.sha256 = digest.hexdigest()


class _ProgressReader:
    """A file wrapper that advances a progress bar as the HTTP client streams it.

    ``fileno`` is passed through so the client can size the body and send a Content-Length.
    """

    def __init__(self, fh: IO[bytes], bar: tqdm):
        self._fh, self._bar = fh, bar

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._bar.update(len(data))
        return data

    def fileno(self) -> int:
        return self._fh.fileno()

    def seek(self, *args):
        return self._fh.seek(*args)

    def tell(self) -> int:
        return self._fh.tell()


def cmd_push(reg: Registry, args) -> int:
    files = collect_files(args.paths)
    metadata: dict[str, Any] = {}
    metrics = {
        **_json_file(args.metrics, option="--metrics"),
        **_pairs(args.metric, option="--metric", number=True),
    }
    params = {
        **_json_file(args.params, option="--params"),
        **_pairs(args.param, option="--param", number=False),
    }
    if metrics:
        metadata["metrics"] = metrics
    if params:
        metadata["parameters"] = params
    if args.dataset:
        metadata["datasets"] = [parse_dataset(d) for d in args.dataset]
    if args.parent is not None:
        metadata["parent_version"] = args.parent
    if args.description:
        metadata["description"] = args.description
    if args.tag:
        metadata["tags"] = {k: str(v) for k, v in _pairs(args.tag, option="--tag", number=False).items()}
    if args.run_url:
        metadata["run_url"] = args.run_url
    if not args.no_git:
        source = detect_git(os.getcwd())
        if source:
            metadata["source"] = source
    hash_files(files, quiet=args.quiet)
    key = args.idempotency_key or str(uuid.uuid4())
    version = _push_direct(reg, args.model, files, metadata, key=key, quiet=args.quiet)
    if version is None:
        metadata["files"] = {f.label: {"sha256": f.sha256} for f in files}
        version = _push_in_one_request(reg, args, files, metadata, key=key)
    if args.stage:
        reg.post(
            f"{version_path(args.model, version['version'])}transition/", {"to": args.stage, "comment": ""}
        )
    print(f"Registered {args.model} v{version['version']} ({len(files)} files).", file=sys.stderr)
    print(version["version"])
    return 0


def _push_direct(reg: Registry, model: str, files: list[LocalFile], metadata: dict, *, key: str, quiet: bool):
    """Upload straight to the bucket when the registry offers it (S3 storage); None when it does not.

    The registry hands out one presigned URL per part; the parts go to the bucket with no registry
    credentials, and the completion call makes the registry verify every file's SHA-256.
    """
    declared = [{"path": f.label, "size": f.size, "sha256": f.sha256} for f in files]
    try:
        answer = reg.http.post(
            f"{model_path(model)}uploads/",
            json={"metadata": metadata, "files": declared},
            headers={"Idempotency-Key": key},
        )
    except httpx.TransportError as exc:
        raise CliError(
            f"Cannot reach the registry at {reg.base} ({exc.__class__.__name__}: {exc}).", 3
        ) from exc
    if answer.status_code == 409 and "(direct_upload_unavailable)" in _error_message(answer):
        return None
    if answer.status_code >= 400:
        raise CliError(_error_message(answer))
    session = answer.json()
    if session["status"] == "completed":  # a retry of a push that already finished
        return reg.post(session["complete_url"], {})
    with (
        _bar(sum(f.size for f in files), "uploading", quiet) as bar,
        httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0, write=600.0), trust_env=True) as bucket,
    ):
        try:
            transfer.send_parts(bucket, session, {f.label: f.source for f in files}, bar)
        except transfer.TransferError as exc:
            # Give the pending version up now rather than leaving it to expire.
            with contextlib.suppress(httpx.HTTPError):
                reg.http.delete(session["complete_url"].rsplit("complete/", 1)[0])
            raise CliError(f"Upload to the bucket failed: {exc}.", 3) from exc
    return reg.post(session["complete_url"], {})


def _push_in_one_request(reg: Registry, args, files: list[LocalFile], metadata: dict, *, key: str) -> dict:
    """One multipart POST with every file (the filesystem backend, or a registry without uploads/)."""
    response = None
    for attempt in range(1, RETRIES + 1):
        with contextlib.ExitStack() as stack:
            bar = stack.enter_context(_bar(sum(f.size for f in files), "uploading", args.quiet))
            parts = [("metadata", (None, json.dumps(metadata), "application/json"))]
            for f in files:
                fh = stack.enter_context(f.source.open("rb"))
                parts.append(("file", (f.label, _ProgressReader(fh, bar), "application/octet-stream")))
            try:
                response = reg.http.post(
                    f"{model_path(args.model)}versions/",
                    files=parts,
                    headers={"Idempotency-Key": key},
                    timeout=httpx.Timeout(None, connect=10.0),
                )
            except httpx.TransportError as exc:
                if attempt == RETRIES:
                    raise CliError(f"Upload failed after {RETRIES} attempts: {exc}.", 3) from exc
                response = None
        if response is not None and response.status_code not in RETRY_STATUSES:
            break
        time.sleep(min(2**attempt, 10))  # the same Idempotency-Key makes the retry safe
    if response.status_code >= 400:
        raise CliError(_error_message(response))
    return response.json()


# -- pull ----------------------------------------------------------------------------------------------


def _safe_relative(path: str) -> str:
    """Refuse a path from the server that could land outside the output directory."""
    norm = posixpath.normpath(path)
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or norm.startswith("../")
        or norm == ".."
        or ":" in norm.split("/", 1)[0]
    ):
        raise CliError(f"The registry returned an unsafe file path {path!r}; refusing to write it.")
    return norm


def _download(reg: Registry, url: str, target: Path, *, expected: dict, bar: tqdm) -> None:
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with reg.http.stream(
            "GET", url, follow_redirects=True, timeout=httpx.Timeout(60.0, connect=10.0)
        ) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise CliError(f"{expected['path']}: {_error_message(resp)}")
            with target.open("wb") as out:
                for chunk in resp.iter_bytes(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except httpx.TransportError as exc:
        raise CliError(f"{expected['path']}: download interrupted ({exc}).", 3) from exc
    actual = digest.hexdigest()
    if actual != expected["sha256"] or size != expected["size"]:
        raise CliError(
            f"{expected['path']}: checksum mismatch: expected SHA-256 {expected['sha256']} ({expected['size']} bytes), "
            f"got {actual} ({size} bytes). Nothing was kept."
        )


def cmd_pull(reg: Registry, args) -> int:
    model, _, ref = args.target.partition(":")
    version = reg.get(version_path(model, ref or "latest"))
    number = version["version"]
    files = version["files"]
    out = Path(args.output).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Download beside the output (same filesystem, so the final moves are renames) and move into place
    # only when every file has verified.
    staging = Path(tempfile.mkdtemp(prefix=f".modelreg-{model}-", dir=out.parent))
    try:
        with _bar(sum(f["size"] for f in files), f"{model} v{number}", args.quiet) as bar:
            for f in files:
                relative = _safe_relative(f["path"])
                # By number, not by the reference: a promotion during the pull must not mix versions.
                url = f"{version_path(model, number)}files/{quote(f['path'])}"
                _download(reg, url, staging / relative, expected=f, bar=bar)
        if not out.exists():
            staging.rename(out)
        else:
            for f in files:
                relative = _safe_relative(f["path"])
                (out / relative).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / relative, out / relative)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    print(f"Pulled {model} v{number}: {len(files)} files verified into {out}.", file=sys.stderr)
    print(number)
    return 0


# -- lifecycle -----------------------------------------------------------------------------------------


def cmd_request(reg: Registry, args) -> int:
    body = {"model": args.model, "version": args.version, "to": args.to, "comment": args.comment or ""}
    req = reg.post("transition-requests/", body)
    print(
        f"Requested {args.model} v{args.version} -> {args.to}: request #{req['id']} ({req['status']}).",
        file=sys.stderr,
    )
    print(req["id"])
    return 0


def _decide(reg: Registry, args, verb: str) -> int:
    req = reg.post(f"transition-requests/{args.request_id}/{verb}/", {"comment": args.comment or ""})
    print(f"Request #{req['id']} for {req['model']} v{req['version']} -> {req['to']}: {req['status']}.")
    return 0


def cmd_approve(reg: Registry, args) -> int:
    return _decide(reg, args, "approve")


def cmd_reject(reg: Registry, args) -> int:
    return _decide(reg, args, "reject")


def cmd_rollback(reg: Registry, args) -> int:
    version = reg.post(f"{model_path(args.model)}rollback/", {"version": args.version, "reason": args.reason})
    print(f"{args.model} v{version['version']} is in {version['stage']} again.")
    return 0


def cmd_deployed(reg: Registry, args) -> int:
    body = {"environment": args.env, "status": args.status, "url": args.deployment_url or ""}
    dep = reg.post(f"{version_path(args.model, args.version)}deployments/", body)
    print(f"Recorded: {args.model} v{dep['version']} {dep['status']} in {dep['environment']}.")
    return 0


# -- reading -------------------------------------------------------------------------------------------


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    cells = [[str(c) if c not in (None, "") else "-" for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def cmd_ls(reg: Registry, args) -> int:
    if not args.model:
        items = list(reg.pages("models/"))
        if args.json:
            print(json.dumps(items, indent=2))
            return 0
        rows = [
            [m["name"], m["team"], m.get("production_version"), m.get("latest_version"), m["updated_at"][:19]]
            for m in items
        ]
        print(_table(rows, ["MODEL", "TEAM", "PRODUCTION", "LATEST", "UPDATED"]))
        return 0
    items = list(reg.pages(f"{model_path(args.model)}versions/", {"ordering": "-version"}))
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    rows = []
    for v in items:
        deployed = ", ".join(f"{d['environment']}:{d['status']}" for d in v.get("deployments") or [])
        rows.append(
            [
                v["version"],
                v["stage"],
                v["status"],
                ",".join(v.get("aliases") or []),
                (v.get("source") or {}).get("commit", "")[:10],
                v.get("created_by"),
                v["created_at"][:19],
                deployed,
            ]
        )
    print(_table(rows, ["VERSION", "STAGE", "STATUS", "ALIASES", "COMMIT", "BY", "CREATED", "DEPLOYED"]))
    return 0


def cmd_history(reg: Registry, args) -> int:
    if args.at:
        snap = reg.get(f"{model_path(args.model)}history/", params={"at": args.at})
        if args.json:
            print(json.dumps(snap, indent=2))
            return 0
        print(f"{snap['model']} at {snap['at']}:")
        for stage in ("production", "staging", "archived", "none"):
            numbers = snap["stages"].get(stage) or []
            print(f"  {stage:<11} {', '.join(f'v{n}' for n in numbers) or '-'}")
        for alias, number in (snap.get("aliases") or {}).items():
            print(f"  @{alias:<10} v{number}")
        entry = snap.get("production_entry")
        if entry:
            approvers = ", ".join(a["actor"] for a in snap.get("production_approvals") or [])
            print(
                f"  production since {entry['created_at']} by {entry['actor']} ({entry['kind']})"
                + (f", approved by {approvers}" if approvers else "")
            )
        return 0
    rows_data = list(reg.pages("audit/", {"model": args.model}, limit=args.limit))
    if args.json:
        print(json.dumps(rows_data, indent=2))
        return 0
    rows = [
        [
            r["created_at"][:19],
            r["kind"],
            f"v{r['version']}" if r.get("version") else "",
            f"{r['from_stage']}->{r['to_stage']}"
            if r.get("to_stage")
            else (f"@{r['alias']}" if r.get("alias") else ""),
            r["actor"],
            (r.get("comment") or "")[:60],
        ]
        for r in rows_data
    ]
    print(_table(rows, ["TIME", "KIND", "VERSION", "CHANGE", "ACTOR", "COMMENT"]))
    return 0


# -- entry point ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help="Registry URL (env MODELREG_URL).")
    common.add_argument("--token", default=argparse.SUPPRESS, help="API token (env MODELREG_TOKEN).")
    common.add_argument(
        "--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="No progress bars."
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="Print JSON (ls, history)."
    )

    parser = argparse.ArgumentParser(
        prog="modelreg", description="Command-line client of the model registry.", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("push", parents=[common], help="Register a new version from files or directories.")
    p.add_argument("model")
    p.add_argument("paths", nargs="+", metavar="file-or-dir")
    p.add_argument("--metrics", metavar="FILE", help="JSON object of metric name -> number.")
    p.add_argument("--params", metavar="FILE", help="JSON object of parameters.")
    p.add_argument("--metric", action="append", metavar="K=V", help="One metric (repeatable).")
    p.add_argument("--param", action="append", metavar="K=V", help="One parameter (repeatable; JSON values).")
    p.add_argument(
        "--dataset", action="append", metavar="URI[@VERSION]", help="A training dataset (repeatable)."
    )
    p.add_argument("--tag", action="append", metavar="K=V", help="A tag (repeatable).")
    p.add_argument("--parent", type=int, metavar="N", help="The version this one was trained from.")
    p.add_argument("--description")
    p.add_argument("--run-url", help="Link to the experiment run.")
    p.add_argument("--stage", choices=["staging"], help="Move the new version to this stage.")
    p.add_argument(
        "--idempotency-key", help="Reuse across retries of one CI job (default: a new key per run)."
    )
    p.add_argument(
        "--no-git", action="store_true", help="Do not record the git source of the working directory."
    )
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("pull", parents=[common], help="Download and verify a version's files.")
    p.add_argument(
        "target", metavar="model[:ref]", help="ref: number, latest, production, staging or @alias."
    )
    p.add_argument("-o", "--output", required=True, help="Output directory.")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("request", parents=[common], help="Request a promotion (needs approval).")
    p.add_argument("model")
    p.add_argument("version", type=int)
    p.add_argument("--to", default="production")
    p.add_argument("--comment")
    p.set_defaults(func=cmd_request)

    for name, func, text in (("approve", cmd_approve, "Approve"), ("reject", cmd_reject, "Reject")):
        p = sub.add_parser(name, parents=[common], help=f"{text} a transition request.")
        p.add_argument("request_id", type=int, metavar="request-id")
        p.add_argument("--comment")
        p.set_defaults(func=func)

    p = sub.add_parser("rollback", parents=[common], help="Return a former Production version to Production.")
    p.add_argument("model")
    p.add_argument("version", type=int)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("ls", parents=[common], help="List models, or a model's versions.")
    p.add_argument("model", nargs="?")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("history", parents=[common], help="A model's audit trail, or its stages at a moment.")
    p.add_argument("model")
    p.add_argument("--at", metavar="TIME", help="ISO time: which version held each stage and alias then.")
    p.add_argument("--limit", type=int, default=200, help="At most this many ledger rows.")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("deployed", parents=[common], help="Report what the CD pipeline did with a version.")
    p.add_argument("model")
    p.add_argument("version", help="Number or reference.")
    p.add_argument("--env", required=True, help="Environment, e.g. prod-eu.")
    p.add_argument("--status", required=True, choices=["started", "succeeded", "failed"])
    p.add_argument("--deployment-url", help="Where the deployment answers.")
    p.set_defaults(func=cmd_deployed)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = getattr(args, "url", None) or os.environ.get("MODELREG_URL") or DEFAULT_URL
    token = getattr(args, "token", None) or os.environ.get("MODELREG_TOKEN")
    args.quiet = getattr(args, "quiet", False)
    args.json = getattr(args, "json", False)
    reg = Registry(url, token)
    try:
        return args.func(reg, args)
    except CliError as exc:
        print(f"modelreg: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("modelreg: interrupted.", file=sys.stderr)
        return 130
    finally:
        reg.close()


if __name__ == "__main__":
    sys.exit(main())
