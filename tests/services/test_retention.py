"""Retention: which Archived versions a policy purges, what it keeps and why, the system account it acts as,
the ``apply_retention`` command, and gc_artifacts / verify_artifacts around purged and held versions."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from models_app import policies, services
from models_app.choices import LedgerKind, Stage, VersionStatus
from models_app.exceptions import NotAllowed
from models_app.models import ArtifactFile, LedgerEntry, ModelVersion
from models_app.storage.maintenance import artifacts_gc
from tests.conftest import register, stored_keys


def run(name, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    def run_(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run_


@pytest.fixture
def archived(registered_model, publisher, reviewer, governance):
    """v1..v5 Archived (straight from no stage), v6 not; retention keeps 2, purges after 30 days."""
    versions = []
    for _ in range(6):
        versions.append(register(registered_model, publisher))
    for v in versions[:5]:
        services.version_transition(version=v, to=Stage.ARCHIVED, actor=reviewer)
    services.promotion_policy_set(
        registered_model=registered_model,
        actor=governance,
        retention={"keep_archived": 2, "archived_for_days": 30},
    )
    return versions


def statuses(model):
    return dict(ModelVersion.objects.filter(registered_model=model).values_list("version", "status"))


def test_the_selection_is_beyond_the_newest_n_and_older_than_d_days():
    now = timezone.now()
    old, young = now - timedelta(days=31), now - timedelta(days=29)
    archived = [(1, old), (2, young), (3, old), (4, old), (5, young)]
    assert policies.retention_candidates(
        {"keep_archived": 2, "archived_for_days": 30}, archived, now=now
    ) == [3, 1]
    assert policies.retention_candidates({"keep_archived": 0, "archived_for_days": 0}, archived, now=now) == [
        5,
        4,
        3,
        2,
        1,
    ]
    assert policies.retention_candidates({}, archived, now=now) == []


def test_retention_purges_what_the_policy_no_longer_keeps(any_storage, archived, registered_model, commits):
    keys = {
        v.version: set(ArtifactFile.objects.filter(version=v).values_list("storage_key", flat=True))
        for v in archived
    }
    report = commits(services.retention_apply, now=timezone.now() + timedelta(days=31))

    assert sorted(r.version.version for r in report.purged) == [1, 2, 3]
    assert statuses(registered_model) == {
        1: "purged",
        2: "purged",
        3: "purged",
        4: "ready",
        5: "ready",
        6: "ready",
    }
    remaining = set(stored_keys(any_storage))
    assert all(not keys[n] & remaining for n in (1, 2, 3))
    assert all(keys[n] <= remaining for n in (4, 5, 6))
    rows = LedgerEntry.objects.filter(kind=LedgerKind.PURGED).order_by("id")
    assert {row.actor_username for row in rows} == {services.RETENTION_USERNAME}
    assert all(row.details["by"] == "retention" for row in rows)
    assert rows[0].details["retention"] == {"keep_archived": 2, "archived_for_days": 30}
    assert sum(r.details["bytes_freed"] for r in rows) == report.bytes_freed > 0
    system = rows[0].actor
    assert not system.is_active and not system.has_usable_password()


def test_retention_waits_for_the_days(archived, registered_model, commits):
    report = commits(services.retention_apply, now=timezone.now() + timedelta(days=29))
    assert report.purged == [] and report.kept == []
    assert set(statuses(registered_model).values()) == {"ready"}


def test_retention_never_purges_a_protected_version(
    archived, registered_model, publisher, reviewer, governance, commits
):
    _, v2, v3 = archived[:3]
    services.alias_set(registered_model=registered_model, alias="fallback", version_number=1, actor=publisher)
    services.version_hold(version=v2, actor=governance, reason="Litigation.")
    # v3 back to Staging with a pending request, then v3 is no longer Archived at all.
    services.version_transition(version=v3, to=Stage.STAGING, actor=publisher)
    services.transition_request_create(version=v3, to=Stage.PRODUCTION, actor=publisher)

    report = commits(services.retention_apply, now=timezone.now() + timedelta(days=31))

    # v3 left Archived, so v1 and v2 are beyond the newest two (v4, v5) and both are protected.
    assert report.purged == []
    kept = {v.version: str(refusal) for v, refusal in report.kept}
    assert set(kept) == {1, 2}
    assert "@fallback" in kept[1] and "legal hold" in kept[2]
    assert set(statuses(registered_model).values()) == {"ready"}


def test_a_dry_run_changes_nothing(any_storage, archived, registered_model):
    before = (statuses(registered_model), LedgerEntry.objects.count(), stored_keys(any_storage))
    report = services.retention_apply(now=timezone.now() + timedelta(days=31), dry_run=True)
    assert sorted(r.version.version for r in report.would_purge) == [1, 2, 3]
    assert report.bytes_freed == sum(r.bytes_freed for r in report.would_purge) > 0
    assert (statuses(registered_model), LedgerEntry.objects.count(), stored_keys(any_storage)) == before


def test_a_person_running_retention_must_be_governance(archived, reviewer, governance, commits):
    with pytest.raises(NotAllowed):
        services.retention_apply(actor=reviewer, now=timezone.now() + timedelta(days=31))
    report = commits(services.retention_apply, actor=governance, now=timezone.now() + timedelta(days=31))
    assert {r.version.version for r in report.purged} == {1, 2, 3}
    assert set(
        LedgerEntry.objects.filter(kind=LedgerKind.PURGED).values_list("actor_username", flat=True)
    ) == {governance.username}


def test_the_command_reports_and_applies(archived, registered_model, governance):
    services.promotion_policy_set(
        registered_model=registered_model,
        actor=governance,
        retention={"keep_archived": 3, "archived_for_days": 0},
    )
    code, out = run("apply_retention", "--dry-run")
    assert code == 0
    assert "would purge fraud-detector v2: 1 file(s)" in out and "would purge fraud-detector v1" in out
    assert "2 version(s) would purge" in out
    assert set(statuses(registered_model).values()) == {"ready"}
    code, out = run("apply_retention")
    assert code == 0 and "purged fraud-detector v1" in out and "2 version(s) purged" in out
    assert statuses(registered_model)[1] == VersionStatus.PURGED
    code, out = run("apply_retention")
    assert code == 0 and "0 version(s) purged" in out


# -- gc_artifacts and verify_artifacts around purges and holds -----------------------------------------


def test_gc_removes_what_an_interrupted_purge_left_but_never_a_held_versions_bytes(
    any_storage, registered_model, publisher, reviewer, governance
):
    v1, v2 = register(registered_model, publisher), register(registered_model, publisher)
    for v in (v1, v2):
        services.version_transition(version=v, to=Stage.ARCHIVED, actor=reviewer)
    # Purged without running the after-commit deletion: what a crash between commit and delete leaves.
    services.version_purge(version=v1, actor=governance, reason="Withdrawn.")
    left = set(ArtifactFile.objects.filter(version=v1).values_list("storage_key", flat=True))
    held = set(ArtifactFile.objects.filter(version=v2).values_list("storage_key", flat=True))
    services.model_hold(registered_model=registered_model, actor=governance, reason="Audit.")
    assert left <= set(stored_keys(any_storage))

    # While the model is held, gc removes nothing of it, not even a purged version's leftovers.
    assert artifacts_gc(grace=timedelta(0)).deleted == []
    services.version_hold(version=v2, actor=governance, reason="Litigation.")
    services.hold_release(registered_model=registered_model, actor=governance, reason="Audit over.")

    # Now the purge's leftovers go; the bytes of v2, held on its own, stay.
    report = artifacts_gc(grace=timedelta(0))
    assert {o.key for o in report.deleted} == left
    assert held <= set(stored_keys(any_storage))
    assert not left & set(stored_keys(any_storage))


def test_verify_artifacts_does_not_flag_purged_versions(
    any_storage, registered_model, publisher, reviewer, governance, commits
):
    v1 = register(registered_model, publisher)
    register(registered_model, publisher)
    services.version_transition(version=v1, to=Stage.ARCHIVED, actor=reviewer)
    commits(services.version_purge, version=v1, actor=governance, reason="Withdrawn.")
    code, out = run("verify_artifacts")
    assert code == 0, out
    assert "1 files checked, 0 problems." in out
