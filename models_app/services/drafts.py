"""Files of tracked runs and logged models (drafts), and registering them as a version.

A draft file is streamed into the artifact storage under a server-generated key (hashed on the way) and
recorded in ``DraftArtifact``. Registration copies the files from storage into ``version_register``,
which hashes them again while storing (a draft whose bytes changed is refused), writes the version, its
``registered`` ledger row and event like any registration, and, in the same transaction, the
``VersionOrigin`` row linking it to the run and the logged model. The run's parameters, metrics, tags
and source tags become the version's lineage.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import yaml
from django.db import transaction

from models_app import rules
from models_app.exceptions import InvalidInput, RegistryError, StorageUnavailable
from models_app.metadata import clean_tags
from models_app.models import (
    DraftArtifact,
    LoggedModel,
    ModelVersion,
    RegisteredModel,
    Run,
    RunMetric,
    VersionOrigin,
)
from models_app.services.versions import version_register
from models_app.storage import objectstore
from models_app.storage.artifacts import (
    IncomingFile,
    artifact_storage,
    delete_quietly,
    new_draft_storage_key,
    store_stream,
    validate_artifact_path,
)

log = logging.getLogger("models_app.lifecycle")

_COMMIT_RE = re.compile(r"^[0-9a-f]{7,64}\Z")
# Small text files of an MLflow model that describe its environment; read once at registration.
_DESCRIPTOR_LIMIT = 100_000
MAX_VERSION_TAGS = 100


@dataclass(frozen=True)
class CopiedFile:
    """A stored file to copy into a new version: its path there, where its bytes are, and their digest."""

    path: str
    storage_key: str
    sha256: str
    size: int
    content_type: str = "application/octet-stream"


def draft_artifact_store(
    *,
    actor,
    path: str,
    stream: IO[bytes],
    content_type: str = "",
    run: Run | None = None,
    logged_model: LoggedModel | None = None,
) -> DraftArtifact:
    """Store one file of a run or a logged model (its creator); a second upload of a path replaces the first.

    The bytes go to storage first (no lock held), then the row; the replaced object is removed after commit.
    """
    if (run is None) == (logged_model is None):
        raise ValueError("give exactly one of run and logged_model")
    if run is not None:
        rules.refuse(rules.may_write_run(actor, run=run))
    else:
        rules.refuse(rules.may_write_logged_model(actor, logged_model=logged_model))
    validate_artifact_path(path, field="path")
    storage = artifact_storage()
    key = new_draft_storage_key()
    try:
        try:
            size, digest = store_stream(storage=storage, key=key, stream=stream)
        except RegistryError:
            raise
        except Exception as exc:
            log.warning("storing draft file %s failed: %s", path, exc)
            raise StorageUnavailable(
                f"Storing {path!r} failed ({exc.__class__.__name__}); nothing was stored.", field="path"
            ) from exc
        owner = {"run": run} if run is not None else {"logged_model": logged_model}
        owner_row = run if run is not None else logged_model
        with transaction.atomic():
            # The owner's row lock orders two uploads of one path.
            type(owner_row).objects.select_for_update().filter(pk=owner_row.pk).first()
            row = DraftArtifact.objects.filter(path=path, **owner).first()
            old_key = row.storage_key if row else None
            if row is None:
                row = DraftArtifact(path=path, **owner)
            row.size, row.sha256, row.storage_key = size, digest, key
            row.content_type = (content_type or "application/octet-stream")[:255]
            row.save()
            if old_key:
                transaction.on_commit(partial(delete_quietly, storage, [old_key]))
    except BaseException:
        delete_quietly(storage, [key])
        raise
    return row


class _StoredBytes(io.RawIOBase):
    """A stored object as a readable stream, opened at the first read (a version may copy many files)."""

    def __init__(self, storage, key: str):
        self._storage, self._key = storage, key
        self._chunks = None
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._chunks is None:
            self._chunks = objectstore.open_stream(self._storage, self._key)
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def version_register_from_drafts(
    *,
    registered_model: RegisteredModel,
    actor,
    files: Sequence[CopiedFile],
    run: Run | None = None,
    logged_model: LoggedModel | None = None,
    source: str = "",
    description: str = "",
    tags: dict | None = None,
) -> ModelVersion:
    """Register a version of ``registered_model`` holding copies of ``files`` (the team's publishers).

    The run, if any, gives the version its lineage (``lineage_from_run``); ``tags`` and ``description``
    are the client's own for the version and win over the run's tags. Ready at once, as every
    registration is.
    """
    rules.refuse(rules.may_publish(actor, registered_model=registered_model))
    explicit = clean_tags(tags or {})
    metadata = lineage_from_run(run) if run is not None else {}
    metadata.update(_environment(files))
    run_tags = metadata.pop("tags", {})
    # The client's own tags first; the run's fill what room is left of a version's hundred.
    inherited = [(k, v) for k, v in run_tags.items() if k not in explicit]
    metadata["tags"] = {**dict(inherited[: max(MAX_VERSION_TAGS - len(explicit), 0)]), **explicit}
    metadata["description"] = description or ""
    storage = artifact_storage()
    incoming = [
        IncomingFile(
            path=f.path,
            stream=_StoredBytes(storage, f.storage_key),
            content_type=f.content_type,
            expected_sha256=f.sha256,
        )
        for f in sorted(files, key=lambda f: f.path)
    ]

    def link(version: ModelVersion) -> None:
        VersionOrigin.objects.create(
            version=version, run=run, logged_model=logged_model, source=source[:1000]
        )

    version, _ = version_register(
        registered_model=registered_model, actor=actor, files=incoming, metadata=metadata, on_insert=link
    )
    return version


def _clean_repository(value: str) -> str:
    """A repository URL without credentials (a remote may carry a token in its user part)."""
    parts = urlsplit(value)
    if parts.scheme and parts.netloc and "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        return urlunsplit(parts)
    return value


def _fits(text: str, limit: int) -> bool:
    return isinstance(text, str) and 0 < len(text) <= limit and not any(ord(ch) < 32 for ch in text)


def lineage_from_run(run: Run) -> dict:
    """A version's lineage from its run: parameters, the latest value of each metric, the run's own tags
    (those that fit a version's tag rules; the run keeps them all), the git commit, branch and repository
    (or script) from the ``mlflow.source.*`` tags, and the logged datasets."""
    latest: dict[str, RunMetric] = {}
    for metric in RunMetric.objects.filter(run=run).order_by("key", "-step", "-timestamp", "-id"):
        latest.setdefault(metric.key, metric)
    metrics = {}
    for key, metric in latest.items():
        if metric.is_nan or not math.isfinite(metric.value):
            raise InvalidInput(
                f"Metric '{key}' of run {run.id} is {'NaN' if metric.is_nan else metric.value}; a version's "
                "metrics must be finite numbers. Log a finite value, then register again.",
                field=f"metrics.{key}",
            )
        metrics[key] = metric.value
    tags = run.tags
    commit = (tags.get("mlflow.source.git.commit") or "").lower()
    repository = _clean_repository(
        tags.get("mlflow.source.git.repoURL") or tags.get("mlflow.source.name") or ""
    )
    branch = tags.get("mlflow.source.git.branch") or ""
    source = {
        "repository": repository if _fits(repository, 500) else "",
        "commit": commit if _COMMIT_RE.match(commit) else "",
        "branch": branch if _fits(branch, 255) else "",
        "dirty": False,
    }
    own_tags = {}
    for key, value in tags.items():
        if key.startswith("mlflow.") or ":" in key or not _fits(key, 100) or len(value) > 500:
            continue
        try:
            own_tags.update(clean_tags({key: value}))
        except InvalidInput:
            continue
    return {
        "source": source,
        "parameters": dict(run.params),
        "metrics": metrics,
        "tags": own_tags,
        "datasets": _datasets(run.inputs),
    }


def _datasets(inputs: list) -> list[dict]:
    """``[{uri, name, digest}]`` from the run's dataset inputs (a dataset without a URI is named by its
    source type and name)."""
    out = []
    for item in inputs:
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict):
            continue
        name, digest = str(dataset.get("name") or ""), str(dataset.get("digest") or "")
        uri = ""
        try:
            described = json.loads(dataset.get("source") or "{}")
            if isinstance(described, dict):
                uri = str(described.get("uri") or described.get("url") or described.get("path") or "")
        except (TypeError, ValueError):
            pass
        uri = uri or f"{dataset.get('source_type') or 'dataset'}:{name}"
        if not (_fits(uri, 2000) and len(name) <= 200 and len(digest) <= 200):
            continue
        entry = {"uri": uri}
        if name and _fits(name, 200):
            entry["name"] = name
        if digest and _fits(digest, 200):
            entry["digest"] = digest
        if entry not in out:
            out.append(entry)
    return out[:200]


def _read_small(file: CopiedFile) -> str | None:
    if file.size > _DESCRIPTOR_LIMIT:
        return None
    try:
        data = b"".join(objectstore.open_stream(artifact_storage(), file.storage_key))
        return data.decode("utf-8")
    except (OSError, RegistryError, UnicodeDecodeError):
        return None


def _environment(files: Sequence[CopiedFile]) -> dict:
    """Environment and signature from an MLflow model's own descriptors (``MLmodel``, ``requirements.txt``)
    when the files include them; anything unreadable is left out (the files themselves are in the version)."""
    by_path = {f.path: f for f in files}
    environment: dict = {}
    signature = None
    if "requirements.txt" in by_path and (text := _read_small(by_path["requirements.txt"])):
        environment["requirements"] = text
    if "MLmodel" in by_path and (text := _read_small(by_path["MLmodel"])):
        try:
            descriptor = yaml.safe_load(text)
        except yaml.YAMLError:
            descriptor = None
        if isinstance(descriptor, dict):
            flavors = descriptor.get("flavors") if isinstance(descriptor.get("flavors"), dict) else {}
            pyfunc = flavors.get("python_function") or {}
            if isinstance(pyfunc, dict) and _fits(str(pyfunc.get("python_version") or ""), 100):
                environment["python_version"] = str(pyfunc["python_version"])
            framework = next((name for name in flavors if name != "python_function"), None)
            if framework and _fits(framework, 100):
                environment["framework"] = framework
                version = (
                    (flavors.get(framework) or {}).get(f"{framework}_version")
                    if isinstance(flavors.get(framework), dict)
                    else None
                )
                if version and _fits(str(version), 100):
                    environment["framework_version"] = str(version)
            if descriptor.get("mlflow_version"):
                environment.setdefault("libraries", {})["mlflow"] = str(descriptor["mlflow_version"])[:100]
            described = descriptor.get("signature")
            if isinstance(described, dict):
                signature = {}
                for part in ("inputs", "outputs", "params"):
                    try:
                        if described.get(part):
                            signature[part] = json.loads(described[part])
                    except (TypeError, ValueError):
                        continue
                signature = signature or None
    out: dict = {}
    if environment:
        out["environment"] = environment
    if signature is not None:
        out["signature"] = signature
    return out
