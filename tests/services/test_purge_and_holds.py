"""Purges and legal holds through the services: what a purge keeps and removes, and every version a purge
never takes (Production, Staging, aliased, requested, held), on the filesystem and on S3."""

from __future__ import annotations

import pytest

from models_app import rules, selectors, services
from models_app.choices import EventType, LedgerKind, Stage, VersionStatus
from models_app.exceptions import (
    AlreadyHeld,
    InvalidInput,
    NotAllowed,
    NotHeld,
    PurgeProtected,
    VersionHeld,
    VersionPurged,
)
from models_app.ledger import verify_chain
from models_app.models import ArtifactFile, Event, LedgerEntry, LegalHold, ModelVersion
from tests.conftest import promote, register, stored_keys

FILES = {"model.bin": b"weights" * 100, "config.json": b'{"depth": 6}'}


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    """Runs what a service defers to after its commit (a purge deletes the bytes then)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def lineup(registered_model, publisher, reviewer):
    """v1 archived (was Production), v2 in Production, v3 in Staging, v4 never staged."""
    v1 = register(registered_model, publisher, files=FILES)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer)
    v3 = register(registered_model, publisher)
    services.version_transition(version=v3, to=Stage.STAGING, actor=publisher)
    v4 = register(registered_model, publisher)
    for v in (v1, v2, v3, v4):
        v.refresh_from_db()
    assert (v1.stage, v2.stage, v3.stage, v4.stage) == ("archived", "production", "staging", "none")
    return v1, v2, v3, v4


def state(any_storage):
    """Everything a refused purge or hold must leave as it was."""
    return (
        sorted(ModelVersion.objects.values_list("version", "status", "stage")),
        LedgerEntry.objects.count(),
        Event.objects.count(),
        sorted(LegalHold.objects.values_list("id", "released_at")),
        stored_keys(any_storage),
    )


def test_a_purge_removes_the_bytes_and_keeps_the_record(any_storage, lineup, governance, commits):
    v1 = lineup[0]
    files = list(ArtifactFile.objects.filter(version=v1).order_by("path").values("path", "size", "sha256"))
    keys = set(ArtifactFile.objects.filter(version=v1).values_list("storage_key", flat=True))
    assert keys <= set(stored_keys(any_storage))

    result = commits(services.version_purge, version=v1, actor=governance, reason="Dataset withdrawn.")

    assert result.bytes_freed == sum(len(b) for b in FILES.values()) and result.files == 2
    assert result.errors == []
    v1.refresh_from_db()
    assert (v1.status, v1.stage) == (VersionStatus.PURGED, Stage.ARCHIVED)
    assert "Dataset withdrawn." in v1.status_reason and governance.username in v1.status_reason
    # The version row, its metadata and the files' paths, sizes and checksums stay; the bytes are gone.
    assert v1.metrics == {"accuracy": 0.9}
    assert (
        list(ArtifactFile.objects.filter(version=v1).order_by("path").values("path", "size", "sha256"))
        == files
    )
    assert not keys & set(stored_keys(any_storage))
    row = LedgerEntry.objects.filter(version=v1).order_by("-id").first()
    assert (row.kind, row.actor, row.comment) == (LedgerKind.PURGED, governance, "Dataset withdrawn.")
    assert row.details["bytes_freed"] == result.bytes_freed
    assert row.details["by"] == "governance" and row.details["files"] == 2
    assert Event.objects.filter(ledger_entry=row, type=EventType.VERSION_PURGED).exists()
    assert verify_chain().ok


def test_a_version_without_a_stage_can_be_purged_and_stays_without_one(lineup, governance, commits):
    v4 = lineup[3]
    commits(services.version_purge, version=v4, actor=governance, reason="Leaked credentials in the weights.")
    v4.refresh_from_db()
    assert (v4.status, v4.stage) == (VersionStatus.PURGED, Stage.NONE)


@pytest.mark.parametrize(
    ("which", "error", "words"),
    [(1, PurgeProtected, "in Production"), (2, PurgeProtected, "in Staging")],
    ids=["production", "staging"],
)
def test_production_and_staging_versions_are_never_purged(
    any_storage, lineup, governance, which, error, words
):
    before = state(any_storage)
    with pytest.raises(error, match=words):
        services.version_purge(version=lineup[which], actor=governance, reason="x")
    assert state(any_storage) == before


def test_an_aliased_version_is_never_purged(any_storage, lineup, registered_model, publisher, governance):
    services.alias_set(registered_model=registered_model, alias="fallback", version_number=1, actor=publisher)
    before = state(any_storage)
    with pytest.raises(PurgeProtected, match="@fallback"):
        services.version_purge(version=lineup[0], actor=governance, reason="x")
    assert state(any_storage) == before


def test_a_version_with_a_pending_request_is_never_purged(any_storage, lineup, publisher, governance):
    v3 = lineup[2]
    services.transition_request_create(version=v3, to=Stage.PRODUCTION, actor=publisher)
    before = state(any_storage)
    with pytest.raises(PurgeProtected):
        services.version_purge(version=v3, actor=governance, reason="x")
    assert state(any_storage) == before


def test_the_rule_names_each_reason_in_order(lineup, governance):
    """``rules.purgeable`` on its own: a pending request refuses even where the services never leave one
    (outside Staging), and a hold is named with its reason."""
    v1 = lineup[0]
    assert rules.purgeable(v1) is None
    assert "pending transition request" in str(rules.purgeable(v1, has_pending=True))
    assert "@a, @b" in str(rules.purgeable(v1, aliases=["b", "a"], has_pending=True))
    hold = LegalHold(
        registered_model=v1.registered_model, version=v1, reason="Matter 7", placed_by=governance
    )
    hold.placed_at = v1.created_at
    refusal = rules.purgeable(v1, hold=hold)
    assert isinstance(refusal, VersionHeld) and "(Matter 7)" in str(refusal)


@pytest.mark.parametrize("scope", ["version", "model"])
def test_a_held_version_is_never_purged(any_storage, lineup, registered_model, governance, scope):
    v1 = lineup[0]
    if scope == "version":
        services.version_hold(version=v1, actor=governance, reason="Litigation 2024-17.")
    else:
        services.model_hold(registered_model=registered_model, actor=governance, reason="Regulator audit.")
    before = state(any_storage)
    with pytest.raises(VersionHeld, match="legal hold"):
        services.version_purge(version=v1, actor=governance, reason="x")
    assert state(any_storage) == before


def test_only_governance_purges_and_a_reason_is_required(
    lineup, publisher, reviewer, governance, any_storage
):
    before = state(any_storage)
    for person in (publisher, reviewer):
        with pytest.raises(NotAllowed, match="Only Governance"):
            services.version_purge(version=lineup[0], actor=person, reason="x")
    with pytest.raises(InvalidInput) as err:
        services.version_purge(version=lineup[0], actor=governance, reason="  ")
    assert err.value.field == "reason"
    assert state(any_storage) == before


def test_a_purged_version_can_never_be_used_again(
    lineup, registered_model, publisher, reviewer, governance, commits
):
    v1 = lineup[0]
    commits(services.version_purge, version=v1, actor=governance, reason="Withdrawn.")
    v1 = selectors.version_get(registered_model=registered_model, ref=1)
    rows = LedgerEntry.objects.count()
    with pytest.raises(VersionPurged):
        services.version_rollback(
            registered_model=registered_model, version_number=1, actor=reviewer, reason="x"
        )
    with pytest.raises(VersionPurged):
        services.version_transition(version=v1, to=Stage.STAGING, actor=publisher)
    with pytest.raises(VersionPurged):
        services.alias_set(registered_model=registered_model, alias="old", version_number=1, actor=publisher)
    with pytest.raises(VersionPurged):
        services.deployment_report(version=v1, environment="prod", status="started", actor=publisher)
    with pytest.raises(VersionPurged, match="be downloaded"):
        selectors.version_file_get(version=v1, path="model.bin")
    with pytest.raises(VersionPurged):
        services.version_purge(version=v1, actor=governance, reason="again")
    with pytest.raises(VersionPurged, match="nothing left to hold"):
        services.version_hold(version=v1, actor=governance, reason="x")
    assert LedgerEntry.objects.count() == rows
    v1.refresh_from_db()
    assert (v1.status, v1.stage) == (VersionStatus.PURGED, Stage.ARCHIVED)
    v2 = ModelVersion.objects.get(registered_model=registered_model, version=2)
    assert v2.stage == Stage.PRODUCTION


# -- legal holds ----------------------------------------------------------------------------------------


def test_a_version_hold_and_its_release_are_ledger_rows(lineup, governance):
    v1 = lineup[0]
    hold = services.version_hold(version=v1, actor=governance, reason="Litigation 2024-17.")
    assert (hold.scope, hold.placed_by, hold.released_at, hold.object_lock) == (
        "version",
        governance,
        None,
        False,
    )
    assert selectors.hold_covering(version=v1) == hold
    placed = LedgerEntry.objects.get(kind=LedgerKind.HOLD_PLACED)
    assert (placed.version, placed.comment, placed.details["hold_id"]) == (v1, "Litigation 2024-17.", hold.pk)

    released = services.hold_release(version=v1, actor=governance, reason="Case closed.")
    assert released.pk == hold.pk and released.released_by == governance
    assert released.release_reason == "Case closed."
    assert selectors.hold_covering(version=v1) is None
    row = LedgerEntry.objects.get(kind=LedgerKind.HOLD_RELEASED)
    assert (row.version, row.comment, row.details["hold_id"]) == (v1, "Case closed.", hold.pk)
    assert Event.objects.filter(type=EventType.HOLD_RELEASED, ledger_entry=row).exists()
    assert verify_chain().ok


def test_holds_are_placed_once_and_released_once(lineup, registered_model, governance, any_storage):
    v1 = lineup[0]
    services.version_hold(version=v1, actor=governance, reason="First matter.")
    services.model_hold(registered_model=registered_model, actor=governance, reason="Audit.")
    before = state(any_storage)
    with pytest.raises(AlreadyHeld, match="First matter"):
        services.version_hold(version=v1, actor=governance, reason="Second matter.")
    with pytest.raises(AlreadyHeld):
        services.model_hold(registered_model=registered_model, actor=governance, reason="Again.")
    with pytest.raises(NotHeld, match="whole model"):
        services.hold_release(version=lineup[3], actor=governance, reason="x")
    assert state(any_storage) == before
    services.hold_release(registered_model=registered_model, actor=governance, reason="Audit over.")
    with pytest.raises(NotHeld):
        services.hold_release(registered_model=registered_model, actor=governance, reason="x")
    # The version's own hold outlives the model's.
    assert selectors.hold_covering(version=v1).reason == "First matter."


def test_only_governance_holds_and_releases(lineup, registered_model, publisher, reviewer, governance):
    for person in (publisher, reviewer):
        with pytest.raises(NotAllowed, match="Only Governance"):
            services.version_hold(version=lineup[0], actor=person, reason="x")
        with pytest.raises(NotAllowed):
            services.model_hold(registered_model=registered_model, actor=person, reason="x")
    services.version_hold(version=lineup[0], actor=governance, reason="x")
    with pytest.raises(NotAllowed):
        services.hold_release(version=lineup[0], actor=reviewer, reason="x")
    with pytest.raises(InvalidInput):
        services.hold_release(version=lineup[0], actor=governance, reason="")
    assert LegalHold.objects.active().count() == 1


def test_a_model_hold_covers_versions_registered_after_it(registered_model, publisher, reviewer, governance):
    services.model_hold(registered_model=registered_model, actor=governance, reason="Regulator audit.")
    later = register(registered_model, publisher)
    services.version_transition(version=later, to=Stage.ARCHIVED, actor=reviewer)
    later.refresh_from_db()
    assert selectors.hold_covering(version=later).scope == "model"
    with pytest.raises(VersionHeld, match="whole model"):
        services.version_purge(version=later, actor=governance, reason="x")
