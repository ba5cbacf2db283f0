"""Registry objects as the MLflow protocol's JSON, and the protocol's stage and status words as ours.

The client decodes with proto defaults, so what a missing field would default to matters: versions always
carry ``status`` (``READY``), ``current_stage`` (``None`` is a word) and ``run_id`` (``""`` without a run);
``version`` is a string; timestamps are integer epoch milliseconds; tags and aliases are lists.
"""

from __future__ import annotations

import json
import math

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse

from models_app.choices import Stage, VersionStatus
from models_app.exceptions import InvalidInput
from models_app.mlflow import paths
from models_app.models import Experiment, LoggedModel, ModelVersion, RegisteredModel, Run, RunMetric

TEAM_TAG = "team"
STAGE_WORDS = {
    Stage.NONE: "None",
    Stage.STAGING: "Staging",
    Stage.PRODUCTION: "Production",
    Stage.ARCHIVED: "Archived",
}
STATUS_WORDS = {
    VersionStatus.READY: "READY",
    VersionStatus.PENDING: "PENDING_REGISTRATION",
    VersionStatus.FAILED: "FAILED_REGISTRATION",
    # The protocol knows no purged status; a purged version is not usable, so it is not READY (a pipeline
    # that checks for READY does not deploy it), and its status_message says it was purged and why.
    VersionStatus.PURGED: "FAILED_REGISTRATION",
}


def stage_from_word(value: object, *, field: str = "stage") -> Stage:
    """A stage as the client names it (``Staging``, ``staging``, ``None``)."""
    words = {word.lower(): stage for stage, word in STAGE_WORDS.items()}
    stage = words.get(str(value).strip().lower()) if isinstance(value, str) else None
    if stage is None:
        raise InvalidInput(
            f"Invalid Model Version stage: {value}. Value must be one of None, Staging, Production, Archived.",
            field=field,
        )
    return stage


def millis(moment) -> int:
    return int(moment.timestamp() * 1000)


def tag_list(tags: dict) -> list[dict]:
    return [{"key": key, "value": value} for key, value in tags.items()]


def _number(value: float, is_nan: bool = False):
    """A metric value in proto JSON: NaN and the infinities are strings."""
    if is_nan or math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _origin(version: ModelVersion):
    try:
        return version.origin
    except ObjectDoesNotExist:
        return None


def run_link(run_id: str, request) -> str:
    if not run_id:
        return ""
    path = reverse("mlflow:runs-get") + f"?run_id={run_id}"
    return request.build_absolute_uri(path) if request is not None else path


def model_version(version: ModelVersion, *, request=None) -> dict:
    origin = _origin(version)
    run_id = origin.run_id if origin and origin.run_id else ""
    data = {
        "name": version.registered_model.name,
        "version": str(version.version),
        "creation_timestamp": millis(version.created_at),
        "last_updated_timestamp": millis(getattr(version, "last_change", None) or version.created_at),
        "user_id": version.created_by.get_username(),
        "current_stage": STAGE_WORDS[Stage(version.stage)],
        "description": version.description,
        "source": (origin.source if origin and origin.source else paths.uri(paths.version_root(version))),
        "run_id": run_id,
        "run_link": run_link(run_id, request),
        "status": STATUS_WORDS[VersionStatus(version.status)],
        "tags": tag_list(version.tags),
        "aliases": [alias.name for alias in version.aliases.all()],
    }
    if version.status_reason:
        data["status_message"] = version.status_reason
    if origin and origin.logged_model_id:
        data["model_id"] = origin.logged_model_id
    return data


def model_tags(registered_model: RegisteredModel) -> dict[str, str]:
    """A model's tags as the client sees them: its card's tags and ``team``, its owning team."""
    return {
        **{k: v for k, v in registered_model.tags.items() if k != TEAM_TAG},
        TEAM_TAG: registered_model.team.name,
    }


def registered_model(
    registered_model: RegisteredModel, *, latest: list[ModelVersion] = (), request=None
) -> dict:
    return {
        "name": registered_model.name,
        "creation_timestamp": millis(registered_model.created_at),
        "last_updated_timestamp": millis(registered_model.updated_at),
        "user_id": registered_model.created_by.get_username(),
        "description": registered_model.description,
        "latest_versions": [model_version(v, request=request) for v in latest],
        "tags": tag_list(model_tags(registered_model)),
        "aliases": [
            {"alias": alias.name, "version": str(alias.version.version)}
            for alias in registered_model.aliases.all()
        ],
    }


def experiment(experiment: Experiment) -> dict:
    return {
        "experiment_id": str(experiment.pk),
        "name": experiment.name,
        "artifact_location": paths.uri(str(experiment.pk)),
        "lifecycle_stage": "active",
        "creation_time": millis(experiment.created_at),
        "last_update_time": millis(experiment.updated_at),
        "tags": tag_list(experiment.tags),
    }


def metric(row: RunMetric) -> dict:
    return {
        "key": row.key,
        "value": _number(row.value, row.is_nan),
        "timestamp": row.timestamp,
        "step": row.step,
    }


def run_info(run: Run) -> dict:
    info = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": str(run.experiment_id),
        "user_id": run.user_id or run.created_by.get_username(),
        "status": run.status,
        "artifact_uri": paths.uri(paths.run_root(run)),
        "lifecycle_stage": "active",
    }
    if run.start_time is not None:
        info["start_time"] = run.start_time
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def run(run: Run, *, metrics: list[RunMetric]) -> dict:
    return {
        "info": run_info(run),
        "data": {
            "metrics": [metric(m) for m in metrics],
            "params": tag_list(run.params),
            "tags": tag_list(run.tags),
        },
        "inputs": {"dataset_inputs": run.inputs},
        "outputs": {"model_outputs": run.outputs},
    }


def logged_model(model: LoggedModel, *, registrations: list[tuple[str, int]] = ()) -> dict:
    """A logged model; its ``mlflow.modelVersions`` tag lists the versions registered from it."""
    tags = dict(model.tags)
    if registrations:
        tags["mlflow.modelVersions"] = json.dumps([{"name": n, "version": str(v)} for n, v in registrations])
    info = {
        "model_id": model.id,
        "experiment_id": str(model.experiment_id),
        "name": model.name,
        "creation_timestamp_ms": millis(model.created_at),
        "last_updated_timestamp_ms": millis(model.updated_at),
        "artifact_uri": paths.uri(paths.logged_model_root(model)),
        "status": model.status,
        "creator_id": model.created_by_id,
        "model_type": model.model_type,
        "tags": tag_list(tags),
    }
    if model.run_id:
        info["source_run_id"] = model.run_id
    return {"info": info, "data": {"params": tag_list(model.params), "metrics": []}}
