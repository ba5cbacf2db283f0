"""Reads of registered models, with the joins their representations need."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Max, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest

from models_app.choices import Stage
from models_app.exceptions import (
    ModelNotFound,
)
from models_app.models import (
    LedgerEntry,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
)
from models_app.names import canonical_name
from models_app.selectors.holds import model_holds_prefetch
from models_app.selectors.pipeline import deployment_current_prefetch


def registered_model_list() -> QuerySet[RegisteredModel]:
    """Models with their team, Production version number and Staging count annotated."""
    # Correlated sub-selects, not aggregates over a join: PostgreSQL computes them for the page's rows
    # only, each from one model's index, instead of grouping every version of every model first.
    versions = ModelVersion.objects.filter(registered_model=OuterRef("pk")).order_by()
    staging = versions.filter(stage=Stage.STAGING).values("registered_model").annotate(n=Count("pk"))
    return (
        RegisteredModel.objects.select_related("team", "created_by", "promotion_policy")
        .annotate(
            production_version=Subquery(versions.filter(stage=Stage.PRODUCTION).values("version")[:1]),
            staging_count=Coalesce(Subquery(staging.values("n")), 0),
            latest_version=Subquery(versions.order_by("-version").values("version")[:1]),
        )
        .prefetch_related(
            Prefetch("aliases", queryset=ModelAlias.objects.select_related("version")),
            deployment_current_prefetch(),
            model_holds_prefetch(),
        )
        .order_by("name")
    )


def registered_model_get(*, name: str) -> RegisteredModel:
    """A model by name, compared in canonical form; ModelNotFound otherwise."""
    model = registered_model_list().filter(name=canonical_name(name)).first()
    if model is None:
        raise ModelNotFound(f"No model named '{name}'.", field="name")
    return model


def _latest_ledger_time():
    rows = LedgerEntry.objects.filter(registered_model=OuterRef("pk")).order_by("-created_at")
    return Subquery(rows.values("created_at")[:1])


def registered_model_list_with_staging() -> QuerySet[RegisteredModel]:
    """``registered_model_list`` plus each model's Staging versions as ``staging_versions`` and
    ``last_change_at`` (its own edits or any ledgered change of its versions: registrations, stage
    changes, decisions, aliases), for the models page."""
    staging = ModelVersion.objects.filter(stage=Stage.STAGING).order_by("-version")
    return (
        registered_model_list()
        .annotate(last_change_at=Greatest("updated_at", Coalesce(_latest_ledger_time(), "updated_at")))
        .prefetch_related(Prefetch("versions", queryset=staging, to_attr="staging_versions"))
    )


def registered_model_last_change_at(*, registered_model: RegisteredModel) -> datetime:
    """When the model last changed: its own edits, or the newest ledger row of it or its versions."""
    rows = LedgerEntry.objects.filter(registered_model=registered_model)
    latest = rows.aggregate(at=Max("created_at"))["at"]
    return max(registered_model.updated_at, latest) if latest else registered_model.updated_at
