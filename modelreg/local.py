"""The client's side of a push: the files to send, their SHA-256, progress bars, the git source and
the values of command-line options."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from tqdm import tqdm

from modelreg.client import CliError

CHUNK = 1024 * 1024


# -- git -----------------------------------------------------------------------------------------------


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


# -- option values -------------------------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(items: list[str], *, option: str, number: bool) -> dict:
    """Repeated ``key=value`` options as a dict: numbers if ``number``, else JSON values or strings."""
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


def read_json_object(path: str | None, *, option: str) -> dict:
    """The JSON object in the file an option names; ``{}`` when the option is not given."""
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


# -- files ---------------------------------------------------------------------------------------------


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


def progress_bar(total: int, desc: str, quiet: bool) -> tqdm:
    """A byte counter on stderr, off with ``--quiet`` and when stderr is not a terminal."""
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
    """Fill in each file's SHA-256."""
    with progress_bar(sum(f.size for f in files), "hashing", quiet) as bar:
        for f in files:
            digest = hashlib.sha256()
            with f.source.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
                    bar.update(len(chunk))
            f.sha256 = digest.hexdigest()


class ProgressReader:
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
