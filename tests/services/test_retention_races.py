"""Races on the real PostgreSQL: a purge against a rollback to the same version, a hold against a purge,
retention against an alias move, and instances electing who runs a periodic job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from models_app import services
from models_app.choices import Stage, VersionStatus
from models_app.exceptions import PurgeProtected, VersionHeld, VersionPurged
from models_app.ledger import verify_chain
from models_app.models import ArtifactFile, LegalHold, ModelAlias, ModelVersion
from models_app.storage.artifacts import artifact_storage
from tests.conftest import promote, register
from tests.services.test_concurrency import run_in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 6


@pytest.fixture(autouse=True)
def _postgres(postgres_only):
    """Row locks are PostgreSQL's."""


def new_model(n, team, publisher, reviewer):
    """A model whose v1 was in Production and is Archived now, with v2 in Production."""
    model = services.registered_model_create(name=f"race-{n}", team=team, actor=publisher)
    v1 = register(model, publisher)
    promote(v1, publisher, reviewer)
    promote(register(model, publisher), publisher, reviewer)
    v1.refresh_from_db()
    assert v1.stage == Stage.ARCHIVED
    return model, v1


def bytes_present(version) -> bool:
    storage = artifact_storage()
    return all(
        storage.exists(k)
        for k in ArtifactFile.objects.filter(version=version).values_list("storage_key", flat=True)
    )


def assert_production_has_its_bytes(model):
    (production,) = ModelVersion.objects.filter(registered_model=model, stage=Stage.PRODUCTION)
    assert production.status == VersionStatus.READY
    assert bytes_present(production)


def test_a_purge_racing_a_rollback_to_the_same_version(team, publisher, reviewer, governance):
    outcomes = []
    for n in range(ROUNDS):
        model, v1 = new_model(n, team, publisher, reviewer)
        racers = [
            lambda v1=v1: services.version_purge(version=v1, actor=governance, reason="Withdrawn."),
            lambda model=model: services.version_rollback(
                registered_model=model, version_number=1, actor=reviewer, reason="v2 misbehaves"
            ),
        ]
        errors = run_in_threads(racers if n % 2 else racers[::-1])
        assert len(errors) == 1, errors
        v1.refresh_from_db()
        if isinstance(errors[0], VersionPurged):  # the purge went first; the rollback was refused
            assert (v1.status, v1.stage) == (VersionStatus.PURGED, Stage.ARCHIVED)
            assert not any(
                artifact_storage().exists(k) for k in v1.files.values_list("storage_key", flat=True)
            )
            outcomes.append("purge")
        else:  # the rollback went first; v1 is Production and keeps its files
            assert isinstance(errors[0], PurgeProtected), errors
            assert (v1.status, v1.stage) == (VersionStatus.READY, Stage.PRODUCTION)
            outcomes.append("rollback")
        assert_production_has_its_bytes(model)
    assert verify_chain().ok
    print("purge vs rollback outcomes:", outcomes)


def test_a_hold_racing_a_purge(team, publisher, reviewer, governance):
    outcomes = []
    for n in range(ROUNDS):
        _, v1 = new_model(n, team, publisher, reviewer)
        racers = [
            lambda v1=v1: services.version_purge(version=v1, actor=governance, reason="Withdrawn."),
            lambda v1=v1: services.version_hold(version=v1, actor=governance, reason="Litigation."),
        ]
        errors = run_in_threads(racers if n % 2 else racers[::-1])
        assert len(errors) == 1, errors
        v1.refresh_from_db()
        held = LegalHold.objects.active().filter(version=v1).exists()
        if isinstance(errors[0], VersionHeld):  # held first: the purge was refused, the bytes stay
            assert held and v1.status == VersionStatus.READY and bytes_present(v1)
            outcomes.append("hold")
        else:  # purged first: nothing is left to hold
            assert isinstance(errors[0], VersionPurged), errors
            assert not held and v1.status == VersionStatus.PURGED
            outcomes.append("purge")
    assert verify_chain().ok
    print("hold vs purge outcomes:", outcomes)


def test_retention_racing_an_alias_move_never_leaves_an_alias_on_a_purged_version(
    team, publisher, reviewer, governance
):
    for n in range(ROUNDS):
        model, v1 = new_model(n, team, publisher, reviewer)
        services.promotion_policy_set(
            registered_model=model, actor=governance, retention={"keep_archived": 0, "archived_for_days": 0}
        )
        later = timezone.now() + timedelta(seconds=1)
        errors = run_in_threads(
            [
                lambda later=later: services.retention_apply(now=later),
                lambda model=model: services.alias_set(
                    registered_model=model, alias="fallback", version_number=1, actor=publisher
                ),
            ]
        )
        v1.refresh_from_db()
        aliased = ModelAlias.objects.filter(version=v1).exists()
        if errors:  # the purge went first
            assert isinstance(errors[0], VersionPurged) and v1.status == VersionStatus.PURGED and not aliased
        else:  # the alias went first, so retention kept v1
            assert aliased and v1.status == VersionStatus.READY
    assert verify_chain().ok


def test_instances_elect_one_runner_per_period(db):
    claims = []
    errors = run_in_threads(
        [
            lambda i=i: claims.append(
                services.periodic_job_claim(name="retention", every_seconds=3600, runner=f"instance-{i}")
            )
            for i in range(6)
        ]
    )
    assert errors == []
    assert sorted(claims) == [False] * 5 + [True]
