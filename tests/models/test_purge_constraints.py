"""The database's backstop for purges and holds, for code (or SQL) that goes around the services."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from models_app import services
from models_app.choices import Stage, VersionStatus
from models_app.models import LegalHold, ModelAlias, ModelVersion, TransitionRequest
from tests.conftest import promote, register


@pytest.fixture
def archived(registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    promote(register(registered_model, publisher), publisher, reviewer)
    v1.refresh_from_db()
    assert v1.stage == Stage.ARCHIVED
    return v1


@pytest.mark.parametrize("stage", [Stage.PRODUCTION, Stage.STAGING])
def test_a_purged_version_cannot_be_in_production_or_staging(registered_model, publisher, stage):
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(
            registered_model=registered_model,
            version=9,
            created_by=publisher,
            status=VersionStatus.PURGED,
            stage=stage,
        )


def test_one_active_hold_per_version_and_per_model(archived, registered_model, governance):
    LegalHold.objects.create(
        registered_model=registered_model, version=archived, reason="a", placed_by=governance
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        LegalHold.objects.create(
            registered_model=registered_model, version=archived, reason="b", placed_by=governance
        )
    LegalHold.objects.create(registered_model=registered_model, reason="m", placed_by=governance)
    with pytest.raises(IntegrityError), transaction.atomic():
        LegalHold.objects.create(registered_model=registered_model, reason="m2", placed_by=governance)
    with pytest.raises(IntegrityError), transaction.atomic():
        LegalHold.objects.filter(version=archived).update(released_at=timezone.now())  # without released_by


@pytest.mark.postgres
def test_the_trigger_refuses_to_purge_a_held_aliased_or_requested_version(
    postgres_only, archived, registered_model, publisher, governance
):
    services.version_hold(version=archived, actor=governance, reason="Litigation.")
    with pytest.raises(DatabaseError, match="legal hold"), transaction.atomic():
        ModelVersion.objects.filter(pk=archived.pk).update(status=VersionStatus.PURGED)
    services.hold_release(version=archived, actor=governance, reason="Closed.")
    services.model_hold(registered_model=registered_model, actor=governance, reason="Audit.")
    with pytest.raises(DatabaseError, match="legal hold"), transaction.atomic():
        ModelVersion.objects.filter(pk=archived.pk).update(status=VersionStatus.PURGED)
    services.hold_release(registered_model=registered_model, actor=governance, reason="Done.")
    alias = ModelAlias.objects.create(
        registered_model=registered_model, name="old", version=archived, updated_by=publisher
    )
    with pytest.raises(DatabaseError, match="alias"), transaction.atomic():
        ModelVersion.objects.filter(pk=archived.pk).update(status=VersionStatus.PURGED)
    alias.delete()
    TransitionRequest.objects.create(version=archived, target_stage=Stage.PRODUCTION, requested_by=publisher)
    with pytest.raises(DatabaseError, match="pending request"), transaction.atomic():
        ModelVersion.objects.filter(pk=archived.pk).update(status=VersionStatus.PURGED)
    assert ModelVersion.objects.get(pk=archived.pk).status == VersionStatus.READY


@pytest.mark.postgres
def test_the_trigger_keeps_a_purged_version_purged(postgres_only, archived, governance):
    services.version_purge(version=archived, actor=governance, reason="Withdrawn.")
    for change in ({"status": VersionStatus.READY}, {"stage": Stage.STAGING}):
        with pytest.raises(DatabaseError, match="purged"), transaction.atomic():
            ModelVersion.objects.filter(pk=archived.pk).update(**change)
    assert ModelVersion.objects.filter(
        pk=archived.pk, status=VersionStatus.PURGED, stage=Stage.ARCHIVED
    ).exists()
