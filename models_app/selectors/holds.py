"""Reads of legal holds: which hold covers a version or a model, and the list of holds."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from models_app.choices import RequestStatus
from models_app.models import LegalHold, ModelAlias, ModelVersion, RegisteredModel, TransitionRequest

# The prefetches that let a list of versions or models show their holds without a query per row.
ACTIVE_VERSION_HOLDS = "active_holds"
ACTIVE_MODEL_HOLDS = "active_model_holds"


def _with_people(queryset: QuerySet[LegalHold]) -> QuerySet[LegalHold]:
    return queryset.select_related("placed_by", "released_by")


def version_holds_prefetch(prefix: str = "") -> Prefetch:
    """A version's own active hold, as ``<version>.active_holds``."""
    return Prefetch(
        f"{prefix}holds", queryset=_with_people(LegalHold.objects.active()), to_attr=ACTIVE_VERSION_HOLDS
    )


def model_holds_prefetch(prefix: str = "") -> Prefetch:
    """A model's own active hold (on all its versions), as ``<model>.active_model_holds``."""
    return Prefetch(
        f"{prefix}holds",
        queryset=_with_people(LegalHold.objects.active().filter(version__isnull=True)),
        to_attr=ACTIVE_MODEL_HOLDS,
    )


def hold_of_model(*, registered_model: RegisteredModel) -> LegalHold | None:
    """The active hold on the whole model, if any."""
    if hasattr(registered_model, ACTIVE_MODEL_HOLDS):
        holds = getattr(registered_model, ACTIVE_MODEL_HOLDS)
        return holds[0] if holds else None
    return (
        _with_people(LegalHold.objects.active())
        .filter(registered_model_id=registered_model.pk, version__isnull=True)
        .first()
    )


def hold_of_version(*, version: ModelVersion) -> LegalHold | None:
    """The version's own active hold, if any (its model's is ``hold_of_model``)."""
    if hasattr(version, ACTIVE_VERSION_HOLDS):
        holds = getattr(version, ACTIVE_VERSION_HOLDS)
        return holds[0] if holds else None
    return _with_people(LegalHold.objects.active()).filter(version_id=version.pk).first()


def hold_covering(*, version: ModelVersion) -> LegalHold | None:
    """The active hold that keeps the version's files: its own, else its model's."""
    return hold_of_version(version=version) or hold_of_model(registered_model=version.registered_model)


def hold_list(*, registered_model: RegisteredModel | None = None) -> QuerySet[LegalHold]:
    """Every hold, active and released, newest first."""
    qs = _with_people(LegalHold.objects.select_related("registered_model", "version"))
    if registered_model is not None:
        qs = qs.filter(registered_model=registered_model)
    return qs.order_by("-placed_at", "-id")


def version_purge_facts(*, version: ModelVersion) -> dict:
    """What ``rules.purgeable`` decides on: the version's aliases, whether it has a pending request, and
    the active hold covering it (read fresh; the purge services read it under the model's lock)."""
    hold = LegalHold.objects.covering(version).select_related("placed_by").order_by("version_id").first()
    return {
        "aliases": list(ModelAlias.objects.filter(version=version).values_list("name", flat=True)),
        "has_pending": TransitionRequest.objects.filter(
            version=version, status=RequestStatus.PENDING
        ).exists(),
        "hold": hold,
    }
