"""Reads for the MLflow layer: experiments, runs, logged models and their files, and models and versions
with what the MLflow representation shows (the last change of each version, its origin, latest per stage)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.db.models import F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from models_app.choices import Role, VersionStatus
from models_app.exceptions import ModelNotFound, NotFound, VersionNotFound
from models_app.inputs import is_ascii_int
from models_app.models import (
    ArtifactFile,
    DraftArtifact,
    Experiment,
    LoggedModel,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    Run,
    RunMetric,
)
from models_app.names import canonical_name


def experiment_get(*, experiment_id) -> Experiment:
    """An experiment by id (the numeric string the client holds); NotFound otherwise."""
    experiment = None
    if is_ascii_int(str(experiment_id)):
        experiment = Experiment.objects.filter(pk=int(experiment_id)).first()
    if experiment is None:
        raise NotFound(
            f"Could not find experiment with ID {experiment_id}.",
            field="experiment_id",
            code="experiment_not_found",
        )
    return experiment


def experiment_get_by_name(*, name: str) -> Experiment:
    experiment = Experiment.objects.filter(name=name).first()
    if experiment is None:
        raise NotFound(
            f"Could not find experiment with name '{name}'.",
            field="experiment_name",
            code="experiment_not_found",
        )
    return experiment


def run_get(*, run_id: str) -> Run:
    """A run by id with its experiment; NotFound otherwise."""
    run = Run.objects.select_related("experiment").filter(pk=str(run_id)).first()
    if run is None:
        raise NotFound(f"Run with id={run_id} not found.", field="run_id", code="run_not_found")
    return run


def run_latest_metrics(*, run: Run) -> list[RunMetric]:
    """The latest value of each of the run's metrics (highest step, then latest timestamp)."""
    latest: dict[str, RunMetric] = {}
    for metric in RunMetric.objects.filter(run=run).order_by("key", "-step", "-timestamp", "-id"):
        latest.setdefault(metric.key, metric)
    return list(latest.values())


def run_metric_history(*, run: Run, key: str) -> QuerySet[RunMetric]:
    return RunMetric.objects.filter(run=run, key=key).order_by("step", "timestamp", "id")


def logged_model_get(*, model_id: str) -> LoggedModel:
    """A logged model by id with its experiment and run; NotFound otherwise."""
    model = LoggedModel.objects.select_related("experiment", "run").filter(pk=str(model_id)).first()
    if model is None:
        raise NotFound(
            f"Logged model with ID '{model_id}' not found.", field="model_id", code="logged_model_not_found"
        )
    return model


def logged_model_list(*, experiment_ids: Iterable[int] = (), where: Q | None = None) -> QuerySet[LoggedModel]:
    """Logged models of the given experiments (all when none are given), newest first."""
    qs = LoggedModel.objects.select_related("experiment", "run")
    ids = list(experiment_ids)
    if ids:
        qs = qs.filter(experiment_id__in=ids)
    if where is not None:
        qs = qs.filter(where)
    return qs.order_by("-created_at", "id")


def logged_model_versions(*, logged_models: Iterable[LoggedModel]) -> dict[str, list[tuple[str, int]]]:
    """Logged model id -> [(model name, version number)] registered from it, in order."""
    out: dict[str, list[tuple[str, int]]] = {}
    rows = (
        ModelVersion.objects.filter(origin__logged_model__in=list(logged_models))
        .order_by("created_at", "pk")
        .values_list("origin__logged_model_id", "registered_model__name", "version")
    )
    for model_id, name, number in rows:
        out.setdefault(model_id, []).append((name, number))
    return out


def draft_files(
    *, run: Run | None = None, logged_model: LoggedModel | None = None
) -> QuerySet[DraftArtifact]:
    """The uploaded files of a run or of a logged model, by path."""
    owner = {"run": run} if run is not None else {"logged_model": logged_model}
    return DraftArtifact.objects.filter(**owner).order_by("path")


def teams_of(user) -> list[Group]:
    """The team groups ``user`` belongs to (every group that is not a registry role)."""
    return list(user.groups.exclude(name__in=Role.values).order_by("name"))


def group_by_name(name: str) -> Group | None:
    return Group.objects.filter(name=name).first()


# -- models and versions as the MLflow layer shows them ----------------------------------------------------


def tracked_model_list() -> QuerySet[RegisteredModel]:
    """Models with their team and aliases (and each alias's version)."""
    return (
        RegisteredModel.objects.select_related("team", "created_by")
        .prefetch_related(
            Prefetch("aliases", queryset=ModelAlias.objects.select_related("version").order_by("name"))
        )
        .order_by("name")
    )


def tracked_version_list() -> QuerySet[ModelVersion]:
    """Versions with their model, author, origin (run, logged model) and aliases, and ``last_change``: the
    time of their latest ledger row (registration, stage change, edit, alias move)."""
    return (
        ModelVersion.objects.select_related(
            "registered_model", "registered_model__team", "created_by", "origin", "origin__run"
        )
        .prefetch_related(Prefetch("aliases", queryset=ModelAlias.objects.order_by("name")))
        .annotate(last_change=Coalesce(Max("transitions__created_at"), "created_at"))
    )


def latest_per_stage(
    *, models: Iterable[RegisteredModel], stages: Iterable[str] = ()
) -> dict[int, list[ModelVersion]]:
    """Model id -> the newest ready version in each stage it has a version in (limited to ``stages`` when
    given), ordered by stage; what ``latest_versions`` and ``get-latest-versions`` answer."""
    ids = [m.pk for m in models]
    if not ids:
        return {}
    top = (
        ModelVersion.objects.filter(
            registered_model=OuterRef("registered_model"), stage=OuterRef("stage"), status=VersionStatus.READY
        )
        .order_by("-version")
        .values("version")[:1]
    )
    qs = tracked_version_list().filter(registered_model_id__in=ids, status=VersionStatus.READY)
    stages = list(stages)
    if stages:
        qs = qs.filter(stage__in=stages)
    qs = qs.annotate(top=Subquery(top)).filter(version=F("top"))
    out: dict[int, list[ModelVersion]] = {}
    for version in qs.order_by("registered_model_id", "stage"):
        out.setdefault(version.registered_model_id, []).append(version)
    return out


def tracked_model_get(*, name: str) -> RegisteredModel:
    """A model by name (canonical form) for the MLflow layer; ModelNotFound otherwise."""
    model = tracked_model_list().filter(name=canonical_name(name)).first()
    if model is None:
        raise ModelNotFound(f"Registered Model with name={name} not found.", field="name")
    return model


def tracked_version_get(*, registered_model: RegisteredModel, number) -> ModelVersion:
    """A version of ``registered_model`` by its number (as the client sends it: a string); VersionNotFound
    otherwise."""
    text = str(number).strip()
    version = None
    if is_ascii_int(text):
        version = tracked_version_list().filter(registered_model=registered_model, version=int(text)).first()
    if version is None:
        raise VersionNotFound(
            f"Model Version (name={registered_model.name}, version={text}) not found.", field="version"
        )
    return version


def version_files(*, version: ModelVersion) -> QuerySet[ArtifactFile]:
    return ArtifactFile.objects.filter(version=version).order_by("path")
