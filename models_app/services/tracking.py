"""Experiment tracking for the MLflow protocol: experiments, runs (parameters, metrics, tags, inputs and
outputs) and logged models.

These are drafts: Publishers create them, whoever started a run or logged a model writes to it, every
registry user reads them, and none of it is registry state (no ledger row, no event) until a logged
model is registered as a version (``services.drafts``). Keys and values are checked against the limits
the MLflow client itself enforces, with errors naming the field.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from models_app import rules
from models_app.choices import LoggedModelStatus, RunStatus
from models_app.exceptions import ExperimentAlreadyExists, InvalidInput
from models_app.inputs import int_value
from models_app.models import Experiment, LoggedModel, Run, RunMetric
from models_app.services._shared import UNSET, Unset

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_NAME = 500
# What one log-batch call may carry (the client splits larger batches itself).
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_ITEMS = 1000
# The logged-model tag the client keeps its registrations in; the registry answers it from VersionOrigin.
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def _text(value, field: str, *, max_length: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput("Must be a string.", field=field)
    if required and not value:
        raise InvalidInput("Must not be empty.", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"Must be at most {max_length} characters.", field=field)
    if "\x00" in value:
        raise InvalidInput("Must not contain NUL characters.", field=field)
    return value


def _key(value, field: str) -> str:
    key = _text(value, field, max_length=MAX_KEY, required=True)
    if any(ord(ch) < 32 for ch in key):
        raise InvalidInput("Must not contain control characters.", field=field)
    return key


def _pairs(items, field: str, *, max_value: int) -> dict[str, str]:
    """``[{"key", "value"}]`` (or a dict) as a dict; values of params and tags are strings."""
    if items is None:
        return {}
    if isinstance(items, dict):
        items = [{"key": k, "value": v} for k, v in items.items()]
    if not isinstance(items, list):
        raise InvalidInput('Must be a list of {"key", "value"} objects.', field=field)
    out: dict[str, str] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput('Must be a {"key", "value"} object.', field=f"{field}[{i}]")
        key = _key(item.get("key"), f"{field}[{i}].key")
        value = item.get("value", "")
        if isinstance(value, bool | int | float):
            value = str(value)
        out[key] = _text(value, f"{field}.{key}", max_length=max_value)
    return out


def _millis(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    number = int_value(value, field=field)
    if number < 0 or number > 2**63 - 1:
        raise InvalidInput("Must be a non-negative integer (epoch milliseconds).", field=field)
    return number


def _float(value, field: str) -> float:
    """A metric value: a number, or the strings ``NaN``/``Infinity``/``-Infinity`` of proto JSON."""
    if isinstance(value, bool):
        raise InvalidInput("Must be a number.", field=field)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity", "inf", "-inf", "nan"):
        return float(value.replace("Infinity", "inf"))
    raise InvalidInput("Must be a number.", field=field)


# -- experiments ------------------------------------------------------------------------------------------


def experiment_create(*, name: str, actor, tags=None) -> Experiment:
    """Create an experiment (Publishers). The one named ``Default`` gets id 0, the client's fallback."""
    rules.refuse(rules.may_track(actor))
    name = _text(name, "name", max_length=MAX_NAME, required=True).strip()
    if not name:
        raise InvalidInput("Must not be blank.", field="name")
    tags = _pairs(tags, "tags", max_value=MAX_TAG_VALUE)
    if Experiment.objects.filter(name=name).exists():
        raise ExperimentAlreadyExists(f"Experiment '{name}' already exists.", field="name")
    extra = {"pk": DEFAULT_EXPERIMENT_ID} if name == DEFAULT_EXPERIMENT_NAME else {}
    try:
        with transaction.atomic():
            return Experiment.objects.create(name=name, tags=tags, created_by=actor, **extra)
    except IntegrityError:
        raise ExperimentAlreadyExists(f"Experiment '{name}' already exists.", field="name") from None


def experiment_default(*, actor) -> Experiment:
    """The ``Default`` experiment (id 0) that runs started without an experiment go to; created on first use."""
    existing = Experiment.objects.filter(pk=DEFAULT_EXPERIMENT_ID).first()
    if existing is not None:
        return existing
    try:
        return experiment_create(name=DEFAULT_EXPERIMENT_NAME, actor=actor)
    except ExperimentAlreadyExists:
        return Experiment.objects.get(pk=DEFAULT_EXPERIMENT_ID)


# -- runs -------------------------------------------------------------------------------------------------


def run_create(
    *, experiment: Experiment, actor, name: str = "", start_time=None, tags=None, user_id: str = ""
) -> Run:
    """Start a run in ``experiment`` (Publishers); its id is server-generated. Without a name, it gets one."""
    rules.refuse(rules.may_track(actor))
    tags = _pairs(tags, "tags", max_value=MAX_TAG_VALUE)
    name = _text(name or tags.get("mlflow.runName", ""), "run_name", max_length=MAX_KEY)
    run_id = uuid.uuid4().hex
    name = name or f"run-{run_id[:8]}"
    tags["mlflow.runName"] = name
    return Run.objects.create(
        id=run_id,
        experiment=experiment,
        name=name,
        status=RunStatus.RUNNING,
        start_time=_millis(start_time, "start_time"),
        user_id=_text(user_id, "user_id", max_length=256),
        tags=tags,
        created_by=actor,
    )


def _locked_run(run: Run, actor) -> Run:
    fresh = Run.objects.select_for_update().get(pk=run.pk)
    rules.refuse(rules.may_write_run(actor, run=fresh))
    return fresh


def run_update(
    *, run: Run, actor, status: str | Unset = UNSET, end_time=UNSET, name: str | Unset = UNSET
) -> Run:
    """Change a run's status, end time or name (its creator)."""
    changes: dict = {}
    if status is not UNSET and status not in (None, ""):
        if status not in RunStatus.values:
            raise InvalidInput(
                f"Unknown run status {status!r}; use one of {', '.join(RunStatus.values)}.", field="status"
            )
        changes["status"] = status
    if end_time is not UNSET:
        changes["end_time"] = _millis(end_time, "end_time")
    if name is not UNSET and name not in (None, ""):
        changes["name"] = _text(name, "run_name", max_length=MAX_KEY)
    with transaction.atomic():
        run = _locked_run(run, actor)
        for key, value in changes.items():
            setattr(run, key, value)
        if "name" in changes:
            run.tags = {**run.tags, "mlflow.runName": changes["name"]}
        run.save()
    return run


def run_log(*, run: Run, actor, params=None, metrics=None, tags=None) -> Run:
    """Log parameters, metric values and tags to a run in one transaction (its creator).

    A parameter is logged once: the same value again is accepted, a different one refused, as MLflow does.
    """
    params = _pairs(params, "params", max_value=MAX_PARAM_VALUE)
    tags = _pairs(tags, "tags", max_value=MAX_TAG_VALUE)
    rows = _metric_rows(metrics)
    if len(rows) > MAX_BATCH_METRICS or len(params) > MAX_BATCH_PARAMS or len(tags) > MAX_BATCH_TAGS:
        raise InvalidInput(
            f"A batch holds at most {MAX_BATCH_METRICS} metrics, {MAX_BATCH_PARAMS} params and "
            f"{MAX_BATCH_TAGS} tags.",
            field="metrics"
            if len(rows) > MAX_BATCH_METRICS
            else "params"
            if len(params) > MAX_BATCH_PARAMS
            else "tags",
        )
    with transaction.atomic():
        run = _locked_run(run, actor)
        for key, value in params.items():
            old = run.params.get(key)
            if old is not None and old != value:
                raise InvalidInput(
                    f"Changing param values is not allowed. Param with key='{key}' was already logged with "
                    f"value='{old}' for run ID='{run.id}'. Attempted logging new value '{value}'.",
                    field=f"params.{key}",
                )
        if params or tags:
            run.params = {**run.params, **params}
            run.tags = {**run.tags, **tags}
            if tags.get("mlflow.runName"):
                run.name = tags["mlflow.runName"][:MAX_KEY]
            run.save()
        for row in rows:
            row.run = run
        RunMetric.objects.bulk_create(rows)
    return run


def _metric_rows(metrics) -> list[RunMetric]:
    if metrics is None:
        return []
    if not isinstance(metrics, list):
        raise InvalidInput(
            'Must be a list of {"key", "value", "timestamp", "step"} objects.', field="metrics"
        )
    rows = []
    for i, item in enumerate(metrics):
        field = f"metrics[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput('Must be a {"key", "value", "timestamp", "step"} object.', field=field)
        key = _key(item.get("key"), f"{field}.key")
        value = _float(item.get("value"), f"metrics.{key}")
        timestamp = _millis(item.get("timestamp"), f"metrics.{key}.timestamp")
        if timestamp is None:
            raise InvalidInput(
                "Missing value for required parameter 'timestamp'.", field=f"metrics.{key}.timestamp"
            )
        step = int_value(item.get("step") or 0, field=f"metrics.{key}.step")
        nan = math.isnan(value)
        rows.append(
            RunMetric(key=key, value=0.0 if nan else value, is_nan=nan, timestamp=timestamp, step=step)
        )
    return rows


def run_inputs_log(*, run: Run, actor, datasets) -> Run:
    """Record the datasets a run used, as the client describes them (name, digest, source, context tags)."""
    if datasets is None:
        datasets = []
    if not isinstance(datasets, list) or not all(isinstance(d, dict) for d in datasets):
        raise InvalidInput("Must be a list of dataset inputs.", field="datasets")
    if len(datasets) > MAX_ITEMS:
        raise InvalidInput(f"At most {MAX_ITEMS} dataset inputs.", field="datasets")
    with transaction.atomic():
        run = _locked_run(run, actor)
        run.inputs = [*run.inputs, *datasets][-MAX_ITEMS:]
        run.save(update_fields=["inputs", "updated_at"])
    return run


def run_outputs_log(*, run: Run, actor, models: Iterable[dict]) -> Run:
    """Record the logged models a run produced (``[{model_id, step}]``); each must exist."""
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise InvalidInput('Must be a list of {"model_id", "step"} objects.', field="models")
    outputs = []
    for i, item in enumerate(models):
        model_id = _text(item.get("model_id"), f"models[{i}].model_id", max_length=34, required=True)
        if not LoggedModel.objects.filter(pk=model_id).exists():
            raise InvalidInput(f"Logged model '{model_id}' does not exist.", field=f"models[{i}].model_id")
        step = int_value(item.get("step") or 0, field=f"models[{i}].step")
        outputs.append({"model_id": model_id, "step": step})
    with transaction.atomic():
        run = _locked_run(run, actor)
        known = {(o["model_id"], o["step"]) for o in run.outputs}
        run.outputs = [*run.outputs, *(o for o in outputs if (o["model_id"], o["step"]) not in known)]
        run.save(update_fields=["outputs", "updated_at"])
    return run


# -- logged models ----------------------------------------------------------------------------------------


def logged_model_create(
    *,
    experiment: Experiment,
    actor,
    name: str,
    run: Run | None = None,
    params=None,
    tags=None,
    model_type: str = "",
) -> LoggedModel:
    """Log a model (Publishers; in a run, only the run's creator). Its id ``m-<hex>`` is server-generated
    and its files are uploaded afterwards through the artifact proxy."""
    rules.refuse(rules.may_track(actor))
    if run is not None:
        rules.refuse(rules.may_write_run(actor, run=run))
        if run.experiment_id != experiment.pk:
            raise InvalidInput(
                f"Run {run.id} belongs to experiment {run.experiment_id}, not {experiment.pk}.",
                field="source_run_id",
            )
    return LoggedModel.objects.create(
        id="m-" + uuid.uuid4().hex,
        experiment=experiment,
        run=run,
        name=_text(name, "name", max_length=MAX_NAME, required=True),
        model_type=_text(model_type, "model_type", max_length=MAX_NAME),
        params=_pairs(params, "params", max_value=MAX_PARAM_VALUE),
        tags=_pairs(tags, "tags", max_value=MAX_TAG_VALUE),
        status=LoggedModelStatus.PENDING,
        created_by=actor,
    )


def _locked_logged_model(logged_model: LoggedModel, actor) -> LoggedModel:
    fresh = LoggedModel.objects.select_for_update().get(pk=logged_model.pk)
    rules.refuse(rules.may_write_logged_model(actor, logged_model=fresh))
    return fresh


def logged_model_update(*, logged_model: LoggedModel, actor, status: str) -> LoggedModel:
    """Mark a logged model's upload finished (or failed)."""
    if status not in LoggedModelStatus.values:
        raise InvalidInput(
            f"Unknown logged model status {status!r}; use one of {', '.join(LoggedModelStatus.values)}.",
            field="status",
        )
    with transaction.atomic():
        logged_model = _locked_logged_model(logged_model, actor)
        logged_model.status = status
        logged_model.save(update_fields=["status", "updated_at"])
    return logged_model


def logged_model_tags_set(*, logged_model: LoggedModel, actor, tags) -> LoggedModel:
    """Set tags of a logged model (its creator).

    ``mlflow.modelVersions``, where the client records the versions registered from the model, is not
    stored: the registry answers it from its own records, so it is right whoever registered the versions.
    """
    tags = _pairs(tags, "tags", max_value=MAX_TAG_VALUE)
    tags.pop(MODEL_VERSIONS_TAG, None)
    if not tags:
        return logged_model
    with transaction.atomic():
        logged_model = _locked_logged_model(logged_model, actor)
        logged_model.tags = {**logged_model.tags, **tags}
        logged_model.save(update_fields=["tags", "updated_at"])
    return logged_model
