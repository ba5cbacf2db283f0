"""The ``mlflow-artifacts:`` namespace the client uploads to and downloads from.

Three kinds of roots, laid out as MLflow lays them out, so paths read familiar:

* ``<experiment id>/<run id>/artifacts/...``: the files of a run (drafts);
* ``<experiment id>/models/<logged model id>/artifacts/...``: the files of a logged model (drafts);
* ``registry/<model name>/<version>/...``: the files of a registered version (what ``get-download-uri``
  answers for every version, whichever way it was registered).

A path is only ever a label: it is resolved to the owner's file records, never joined onto a directory or
used as a storage key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models_app import selectors
from models_app.exceptions import NotFound
from models_app.inputs import is_ascii_int
from models_app.models import LoggedModel, ModelVersion, Run

SCHEME = "mlflow-artifacts:"
VERSION_PREFIX = "registry"
_RUN_ID = re.compile(r"^[0-9a-f]{32}\Z")
_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}\Z")


def run_root(run: Run) -> str:
    return f"{run.experiment_id}/{run.id}/artifacts"


def logged_model_root(logged_model: LoggedModel) -> str:
    return f"{logged_model.experiment_id}/models/{logged_model.id}/artifacts"


def version_root(version: ModelVersion) -> str:
    return f"{VERSION_PREFIX}/{version.registered_model.name}/{version.version}"


def uri(root: str) -> str:
    return f"{SCHEME}/{root}"


def strip_scheme(value: str) -> str | None:
    """The namespace path of an ``mlflow-artifacts:/p`` (or ``mlflow-artifacts://host/p``) URI, else None."""
    if not value.startswith(SCHEME):
        return None
    rest = value[len(SCHEME) :]
    if rest.startswith("//"):
        rest = rest[2:].partition("/")[2]
    return rest.strip("/")


@dataclass(frozen=True)
class Entry:
    """One file below a root: its path there, and where and what its bytes are."""

    path: str
    size: int
    sha256: str
    storage_key: str
    content_type: str


@dataclass(frozen=True)
class Location:
    """A namespace path resolved to the run, logged model or version owning it, and the path below its root."""

    sub: str
    run: Run | None = None
    logged_model: LoggedModel | None = None
    version: ModelVersion | None = None

    def files(self) -> list[Entry]:
        if self.version is not None:
            rows = selectors.version_files(version=self.version)
        else:
            rows = selectors.draft_files(run=self.run, logged_model=self.logged_model)
        return [Entry(r.path, r.size, r.sha256, r.storage_key, r.content_type) for r in rows]

    def below(self) -> list[Entry]:
        """The files below ``sub`` (a directory), with paths relative to it; [] for a file or nothing."""
        prefix = f"{self.sub}/" if self.sub else ""
        return [
            Entry(f.path[len(prefix) :], f.size, f.sha256, f.storage_key, f.content_type)
            for f in self.files()
            if f.path.startswith(prefix)
        ]

    def file(self) -> Entry | None:
        """The file at ``sub`` exactly, if there is one."""
        if not self.sub:
            return None
        if self.version is not None:
            row = selectors.version_files(version=self.version).filter(path=self.sub).first()
        else:
            row = (
                selectors.draft_files(run=self.run, logged_model=self.logged_model)
                .filter(path=self.sub)
                .first()
            )
        return Entry(row.path, row.size, row.sha256, row.storage_key, row.content_type) if row else None

    def listing(self) -> list[dict]:
        """The entries directly below ``sub`` as the protocol lists them (names relative to it)."""
        dirs: set[str] = set()
        files: list[dict] = []
        for entry in self.below():
            head, sep, _ = entry.path.partition("/")
            if sep:
                dirs.add(head)
            else:
                files.append({"path": head, "is_dir": False, "file_size": entry.size})
        return sorted([{"path": d, "is_dir": True} for d in dirs] + files, key=lambda e: e["path"])


def resolve(path: str) -> Location | None:
    """The owner of a namespace path, or None when the path names no run, logged model or version."""
    segments = [s for s in path.strip("/").split("/") if s != ""]
    if any(s in (".", "..") for s in segments):
        return None
    try:
        if len(segments) >= 3 and segments[0] == VERSION_PREFIX and is_ascii_int(segments[2]):
            model = selectors.tracked_model_get(name=segments[1])
            version = selectors.tracked_version_get(registered_model=model, number=segments[2])
            return Location("/".join(segments[3:]), version=version)
        if (
            len(segments) >= 4
            and is_ascii_int(segments[0])
            and segments[1] == "models"
            and segments[3] == "artifacts"
        ) and _MODEL_ID.match(segments[2]):
            logged_model = selectors.logged_model_get(model_id=segments[2])
            if str(logged_model.experiment_id) == segments[0]:
                return Location("/".join(segments[4:]), logged_model=logged_model)
        if (
            len(segments) >= 3
            and is_ascii_int(segments[0])
            and _RUN_ID.match(segments[1])
            and segments[2] == "artifacts"
        ):
            run = selectors.run_get(run_id=segments[1])
            if str(run.experiment_id) == segments[0]:
                return Location("/".join(segments[3:]), run=run)
    except NotFound:
        return None
    return None
