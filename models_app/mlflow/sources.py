"""What a ``model-versions/create`` source names: the files to copy into the new version, and the run and
logged model it comes from.

Sources the client sends: ``models:/m-<id>`` (a logged model), ``runs:/<run>/<path>`` (a run's files, or
the run's logged model of that name), ``mlflow-artifacts:/<path>`` (anything in the artifact namespace)
and ``models:/<name>/<version>`` (a registered version, copied). A source outside the registry
(``s3://...``) is refused: the registry stores and verifies every version's bytes itself.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from models_app import rules, selectors
from models_app.exceptions import InvalidInput
from models_app.mlflow import paths
from models_app.models import LoggedModel, Run
from models_app.services import CopiedFile

_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}\Z")


@dataclass
class Origin:
    source: str
    files: list[CopiedFile] = field(default_factory=list)
    run: Run | None = None
    logged_model: LoggedModel | None = None


def _copies(entries) -> list[CopiedFile]:
    return [CopiedFile(e.path, e.storage_key, e.sha256, e.size, e.content_type) for e in entries]


def _same(given, found, what: str, field_name: str):
    if given is not None and given.pk != found.pk:
        raise InvalidInput(
            f"The source names {what} {found.pk}, but {field_name} names {given.pk}.", field=field_name
        )
    return found


def _logged_model_of_run(run: Run, name: str) -> LoggedModel | None:
    """The run's logged model called ``name`` (the latest-stepped one when there are several)."""
    candidates = list(selectors.logged_model_list(where=None).filter(run=run, name=name))
    if not candidates:
        return None
    steps = {o.get("model_id"): o.get("step", 0) for o in run.outputs}
    return max(candidates, key=lambda m: (steps.get(m.id, -1), m.created_at))


def _location_files(location: paths.Location) -> list[CopiedFile]:
    below = location.below()
    if below:
        return _copies(below)
    single = location.file()
    if single is None:
        return []
    # One file becomes a version holding that file under its own name.
    name = posixpath.basename(single.path)
    return [CopiedFile(name, single.storage_key, single.sha256, single.size, single.content_type)]


def _registered(text: str, origin: Origin) -> None:
    """``models:/<name>/<version|stage|latest>`` or ``models:/<name>@<alias>``: a registered version's files."""
    if "@" in text:
        name, _, alias = text.partition("@")
        ref = f"@{alias}"
    else:
        name, _, ref = text.partition("/")
        ref = ref.strip("/").lower() or "latest"
    model = selectors.tracked_model_get(name=name)
    version = selectors.version_get(registered_model=model, ref=ref)
    rules.refuse(rules.version_usable(version, to="be copied", field="source"))
    origin.files = _copies(paths.Location("", version=version).below())
    # A version copied from a version keeps the lineage of the run it came from (a missing origin raises
    # an AttributeError, hence getattr).
    source_origin = getattr(version, "origin", None)
    if origin.run is None and source_origin is not None:
        origin.run = source_origin.run


def resolve(*, source: str, run_id: str = "", model_id: str = "", user=None) -> Origin:
    """The files, run and logged model a version registered from ``source`` gets."""
    logged_model = selectors.logged_model_get(model_id=model_id) if model_id else None
    run = selectors.run_get(run_id=run_id) if run_id else None
    source = source.strip()
    if not source:
        if logged_model is None:
            raise InvalidInput("Missing value for required parameter 'source'.", field="source")
        source = f"models:/{logged_model.id}"
    origin = Origin(source=source, run=run, logged_model=logged_model)
    namespace = paths.strip_scheme(source)
    if source.startswith("models:/"):
        rest = source.removeprefix("models:/").strip("/")
        if _MODEL_ID.match(rest):
            origin.logged_model = _same(
                logged_model, selectors.logged_model_get(model_id=rest), "logged model", "model_id"
            )
            origin.files = _copies(paths.Location("", logged_model=origin.logged_model).below())
        else:
            _registered(rest, origin)
    elif source.startswith("runs:/"):
        run_part, _, sub = source.removeprefix("runs:/").partition("/")
        origin.run = _same(run, selectors.run_get(run_id=run_part), "run", "run_id")
        sub = sub.strip("/")
        origin.files = _location_files(paths.Location(sub, run=origin.run))
        if not origin.files and sub:
            found = _logged_model_of_run(origin.run, sub)
            if found is not None:
                origin.logged_model = _same(logged_model, found, "logged model", "model_id")
                origin.files = _copies(paths.Location("", logged_model=found).below())
    elif namespace is not None:
        location = paths.resolve(namespace)
        if location is None:
            raise InvalidInput(f"Source {source!r} names nothing stored in this registry.", field="source")
        origin.files = _location_files(location)
        if location.logged_model is not None:
            origin.logged_model = _same(logged_model, location.logged_model, "logged model", "model_id")
        if location.run is not None:
            origin.run = _same(run, location.run, "run", "run_id")
        source_origin = getattr(location.version, "origin", None) if location.version is not None else None
        if origin.run is None and source_origin is not None:
            origin.run = source_origin.run
    else:
        raise InvalidInput(
            f"Source {source!r} is outside this registry, which stores and verifies every version's files "
            "itself: log the model to this registry (MLFLOW_TRACKING_URI) and register models:/m-<id>, "
            "runs:/<run id>/<path> or an mlflow-artifacts:/ path.",
            field="source",
        )
    if origin.logged_model is not None and origin.run is None:
        origin.run = origin.logged_model.run
    if not origin.files:
        raise InvalidInput(
            f"Source {source!r} has no files: upload the model's files (log_model does) before registering it.",
            field="source",
        )
    return origin
