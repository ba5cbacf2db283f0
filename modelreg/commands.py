"""One function per ``modelreg`` command: ``cmd_<name>(reg, args)`` returns the exit code."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from tqdm import tqdm

from modelreg import transfer
from modelreg.client import (
    RETRIES,
    RETRY_STATUSES,
    CliError,
    Registry,
    error_message,
    model_path,
    version_path,
)
from modelreg.local import (
    CHUNK,
    LocalFile,
    ProgressReader,
    collect_files,
    detect_git,
    hash_files,
    parse_dataset,
    parse_pairs,
    progress_bar,
    read_json_object,
)

# -- push ----------------------------------------------------------------------------------------------


def cmd_push(reg: Registry, args) -> int:
    files = collect_files(args.paths)
    metadata: dict[str, Any] = {}
    metrics = {
        **read_json_object(args.metrics, option="--metrics"),
        **parse_pairs(args.metric, option="--metric", number=True),
    }
    params = {
        **read_json_object(args.params, option="--params"),
        **parse_pairs(args.param, option="--param", number=False),
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
        metadata["tags"] = {k: str(v) for k, v in parse_pairs(args.tag, option="--tag", number=False).items()}
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
    if answer.status_code == 409 and "(direct_upload_unavailable)" in error_message(answer):
        return None
    if answer.status_code >= 400:
        raise CliError(error_message(answer))
    session = answer.json()
    if session["status"] == "completed":  # a retry of a push that already finished
        return reg.post(session["complete_url"], {})
    with (
        progress_bar(sum(f.size for f in files), "uploading", quiet) as bar,
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
            bar = stack.enter_context(progress_bar(sum(f.size for f in files), "uploading", args.quiet))
            parts = [("metadata", (None, json.dumps(metadata), "application/json"))]
            for f in files:
                fh = stack.enter_context(f.source.open("rb"))
                parts.append(("file", (f.label, ProgressReader(fh, bar), "application/octet-stream")))
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
        raise CliError(error_message(response))
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
                raise CliError(f"{expected['path']}: {error_message(resp)}")
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
    # only when every file has verified. A plain mkdir rather than tempfile.mkdtemp: a new output is
    # this directory renamed, so it must have the mode the umask gives, not mkdtemp's 0700.
    staging = out.parent / f".modelreg-{model}-{uuid.uuid4().hex[:16]}"
    staging.mkdir()
    try:
        with progress_bar(sum(f["size"] for f in files), f"{model} v{number}", args.quiet) as bar:
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
