"""Client-side artifact transfers for the ``modelreg`` CLI (and any Python client), over httpx.

``upload_version`` registers a version straight to the bucket when the server offers direct upload
and falls back to the one-request multipart registration when it answers 409
``direct_upload_unavailable``; ``download_file`` follows a presigned redirect when the server gives
one. Both stream from and to disk with progress bars, and both check the SHA-256 end to end.
Presigned URLs are fetched with a separate client that never sends the registry's Authorization.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from tqdm import tqdm

CHUNK = 1024 * 1024
PART_ATTEMPTS = 3


class TransferError(Exception):
    """A transfer failed; the message says which file and why."""


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _slice(path: Path, offset: int, size: int, advance: Callable[[int], object]) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(offset)
        left = size
        while left > 0:
            data = fh.read(min(CHUNK, left))
            if not data:
                raise TransferError(f"{path} is shorter than when it was hashed")
            left -= len(data)
            advance(len(data))
            yield data


def _error(answer: httpx.Response) -> tuple[str, str]:
    try:
        first = answer.json()["errors"][0]
        return first.get("code", ""), first.get("detail", answer.text)
    except (ValueError, KeyError, IndexError, TypeError):
        return "", answer.text


def _check(answer: httpx.Response, what: str) -> httpx.Response:
    if answer.is_error:
        code, detail = _error(answer)
        raise TransferError(f"{what}: HTTP {answer.status_code} {code}: {detail}")
    return answer


def upload_version(
    client: httpx.Client,
    model: str,
    files: dict[str, Path],
    *,
    metadata: dict | None = None,
    idempotency_key: str | None = None,
    progress: bool = True,
    bucket_client: httpx.Client | None = None,
) -> dict:
    """Register a version of ``model`` with ``files`` (path in the version -> local file); return it.

    ``client`` carries the base URL and the registry token; ``bucket_client`` (default: a new plain
    client) sends the parts to the presigned URLs.
    """
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    declared = [
        {"path": name, "size": path.stat().st_size, "sha256": file_digest(path)}
        for name, path in files.items()
    ]
    answer = client.post(
        f"/api/v1/models/{model}/uploads/",
        json={"metadata": metadata or {}, "files": declared},
        headers=headers,
    )
    if answer.status_code == 409 and _error(answer)[0] == "direct_upload_unavailable":
        return _upload_in_one_request(client, model, files, declared, metadata, headers)
    session = _check(answer, "starting the upload").json()
    total = sum(spec["size"] for spec in session["files"])
    own_bucket_client = bucket_client is None
    bucket = bucket_client or httpx.Client(timeout=httpx.Timeout(60, write=600))
    try:
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc=f"{model} v{session['version']}",
            disable=not progress,
        ) as bar:
            send_parts(bucket, session, files, bar)
    except BaseException:
        # Leave nothing pending behind a failed client; the server would expire it anyway.
        client.delete(session["complete_url"].rsplit("complete/", 1)[0])
        raise
    finally:
        if own_bucket_client:
            bucket.close()
    done = client.post(session["complete_url"])
    return _check(done, f"completing v{session['version']}").json()


def send_parts(bucket: httpx.Client, session: dict, files: dict[str, Path], bar) -> None:
    """PUT every part of an upload session (as the registry answered it) from the local files,
    advancing ``bar``; each part is retried, and a part that keeps failing raises TransferError."""
    for spec in session["files"]:
        for part in spec["parts"]:
            _put_part(bucket, files[spec["path"]], spec["path"], part, bar)


def _put_part(bucket: httpx.Client, path: Path, name: str, part: dict, bar) -> None:
    for attempt in range(1, PART_ATTEMPTS + 1):
        sent = 0

        def advance(n: int) -> None:
            nonlocal sent
            sent += n
            bar.update(n)

        try:
            answer = bucket.put(
                part["url"],
                content=_slice(path, part["offset"], part["size"], advance),
                headers={"Content-Length": str(part["size"])},
            )
            if answer.status_code == 200:
                return
            problem = f"HTTP {answer.status_code}: {answer.text[:200]}"
        except httpx.TransportError as exc:
            problem = str(exc) or exc.__class__.__name__
        bar.update(-sent)
        if attempt == PART_ATTEMPTS:
            raise TransferError(f"uploading part {part['part_number']} of {name} failed: {problem}")


def _upload_in_one_request(client, model, files, declared, metadata, headers) -> dict:
    meta = dict(metadata or {})
    meta["files"] = {d["path"]: {"sha256": d["sha256"]} for d in declared}
    handles = {name: path.open("rb") for name, path in files.items()}
    try:
        parts = [("file", (name, fh, "application/octet-stream")) for name, fh in handles.items()]
        answer = client.post(
            f"/api/v1/models/{model}/versions/",
            data={"metadata": json.dumps(meta)},
            files=parts,
            headers=headers,
        )
    finally:
        for fh in handles.values():
            fh.close()
    return _check(answer, "registering the version").json()


def download_file(
    client: httpx.Client,
    model: str,
    ref: str | int,
    path: str,
    dest: Path,
    *,
    progress: bool = True,
    bucket_client: httpx.Client | None = None,
) -> str:
    """Download one file of a version to ``dest`` and return its verified SHA-256.

    A 302 from the registry is followed with a plain client (the presigned URL is the credential);
    the bytes land in ``dest`` only once their SHA-256 matches the one the registry announced.
    """
    url = f"/api/v1/models/{model}/versions/{ref}/files/{path}"
    tmp = dest.with_name(dest.name + ".part")
    own_bucket_client = bucket_client is None
    bucket = bucket_client or httpx.Client(timeout=httpx.Timeout(60, read=600))
    try:
        with client.stream("GET", url, follow_redirects=False) as answer:
            if answer.is_redirect:
                expected = answer.headers.get("X-Checksum-Sha256", "")
                location = answer.headers["Location"]
                with bucket.stream("GET", location) as direct:
                    digest = _save(_check(direct, f"downloading {path} from the bucket"), tmp, progress, path)
            else:
                if answer.is_error:
                    answer.read()
                _check(answer, f"downloading {path}")
                expected = answer.headers.get("X-Checksum-Sha256") or answer.headers.get("ETag", "").strip(
                    '"'
                )
                digest = _save(answer, tmp, progress, path)
    finally:
        if own_bucket_client:
            bucket.close()
    if not expected or digest != expected:
        tmp.unlink(missing_ok=True)
        raise TransferError(f"{path}: SHA-256 {digest} does not match the registry's {expected or '(none)'}")
    os.replace(tmp, dest)
    return digest


def _save(answer: httpx.Response, tmp: Path, progress: bool, label: str) -> str:
    digest = hashlib.sha256()
    total = int(answer.headers.get("Content-Length") or 0) or None
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with (
        tmp.open("wb") as out,
        tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=not progress) as bar,
    ):
        for chunk in answer.iter_bytes(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()
