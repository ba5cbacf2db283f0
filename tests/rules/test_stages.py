"""rules.may_change_stages, rules.may_move (the whole transition table, for every role), rules.not_frozen
and rules.may_roll_back."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from models_app import rules
from models_app.choices import Stage, VersionStatus
from models_app.exceptions import (
    ApprovalRequired,
    FreezeWindowActive,
    InvalidTransition,
    NeverInProduction,
    NotAllowed,
    RollbackRequired,
    VersionNotReady,
)
from models_app.policies import FreezeWindow, Policy
from tests.rules.facts import assert_refused, version

ROLES = ["publisher", "outsider", "reviewer", "governance", "norole", "superuser"]
PAIRS = list(itertools.product(Stage, Stage))

# The table written out by hand, so the test does not re-derive it from models_app.lifecycle.
PUBLISHER_MOVES = {
    (Stage.NONE, Stage.STAGING),
    (Stage.STAGING, Stage.NONE),
    (Stage.ARCHIVED, Stage.STAGING),
}
REVIEWER_MOVES = {
    (Stage.NONE, Stage.ARCHIVED),
    (Stage.STAGING, Stage.ARCHIVED),
}
MAY_PUBLISH = {"publisher", "superuser"}
MAY_ARCHIVE = {"reviewer", "superuser"}


@pytest.mark.parametrize("name", ["publisher", "publisher2", "reviewer", "superuser"])
def test_team_publishers_and_reviewers_take_part_in_stage_changes(persona, registered_model, name):
    assert rules.may_change_stages(persona(name), registered_model=registered_model) is None


@pytest.mark.parametrize("name", ["outsider", "governance", "norole", "inactive_publisher"])
def test_nobody_else_takes_part_in_stage_changes(persona, registered_model, name):
    assert_refused(
        rules.may_change_stages(persona(name), registered_model=registered_model),
        NotAllowed,
        "permission_denied",
        "You cannot change stages of 'fraud-detector': that needs team Publishers or Reviewers.",
    )


# -- may_move ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ROLES)
@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_may_move_follows_the_table_for_every_role(persona, registered_model, current, target, name):
    refusal = rules.may_move(persona(name), version=version(registered_model, stage=current), target=target)
    if current == Stage.PRODUCTION:
        # Nothing leaves Production by a direct move, whoever asks: its retirement is requested.
        assert_refused(
            refusal,
            ApprovalRequired,
            "approval_required",
            "v1 of 'fraud-detector' is in Production; moving it out needs an approved request",
            '{"model": "fraud-detector", "version": 1, "to": "archived", "comment": "<reason>"}',
            field="stage",
        )
    elif (current, target) == (Stage.ARCHIVED, Stage.PRODUCTION):
        assert_refused(refusal, RollbackRequired, "rollback_required", "only through a rollback")
    elif (current, target) == (Stage.STAGING, Stage.PRODUCTION):
        assert_refused(
            refusal,
            ApprovalRequired,
            "approval_required",
            "needs an approved transition request",
            "POST /api/v1/transition-requests/",
        )
    elif (current, target) in PUBLISHER_MOVES:
        if name in MAY_PUBLISH:
            assert refusal is None
        else:
            assert_refused(
                refusal,
                NotAllowed,
                "permission_denied",
                f"Only Publishers of team 'fraud-team' can move versions of 'fraud-detector' to {target}.",
            )
    elif (current, target) in REVIEWER_MOVES:
        if name in MAY_ARCHIVE:
            assert refusal is None
        else:
            assert_refused(refusal, NotAllowed, "permission_denied", "Only Reviewers can archive versions.")
    else:
        assert_refused(
            refusal,
            InvalidTransition,
            "invalid_transition",
            f"Cannot move a version from stage '{current}' to stage '{target}'.",
            field="to",
        )


@pytest.mark.parametrize("status", [VersionStatus.PENDING, VersionStatus.FAILED])
@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_a_version_that_is_not_ready_moves_nowhere(superuser, registered_model, current, target, status):
    """Readiness is checked before the table and the roles, even for the superuser."""
    unready = version(registered_model, number=4, stage=current, status=status)
    assert_refused(
        rules.may_move(superuser, version=unready, target=target),
        VersionNotReady,
        "version_not_ready",
        f"v4 is {status}; only ready versions can change stage.",
    )


# -- not_frozen -------------------------------------------------------------------------------------------

START = datetime(2026, 12, 20, tzinfo=UTC)
END = datetime(2027, 1, 4, tzinfo=UTC)


def frozen(reason="year-end"):
    return Policy(freeze_windows=(FreezeWindow(START, END, reason),))


def test_without_freeze_windows_nothing_is_frozen(registered_model):
    assert rules.not_frozen(Policy(), registered_model=registered_model, now=START) is None


@pytest.mark.parametrize("now", [START - timedelta(microseconds=1), END, END + timedelta(days=1)])
def test_outside_the_window_nothing_is_frozen(registered_model, now):
    assert rules.not_frozen(frozen(), registered_model=registered_model, now=now) is None


@pytest.mark.parametrize("now", [START, START + timedelta(days=3), END - timedelta(microseconds=1)])
def test_inside_the_half_open_window_production_is_frozen(registered_model, now):
    refusal = rules.not_frozen(frozen(), registered_model=registered_model, now=now)
    assert_refused(refusal, FreezeWindowActive, "freeze_window", field="to")
    assert refusal.message == (
        "Production changes to 'fraud-detector' are frozen from 2026-12-20T00:00:00+00:00 "
        "until 2027-01-04T00:00:00+00:00 (year-end); only rollbacks are allowed."
    )


def test_a_window_without_a_reason_gives_none_in_the_message(registered_model):
    refusal = rules.not_frozen(frozen(reason=""), registered_model=registered_model, now=START)
    assert_refused(refusal, FreezeWindowActive, "freeze_window", "only rollbacks are allowed", field="to")
    assert "(" not in refusal.message


def test_the_open_window_is_the_one_named(registered_model):
    later = FreezeWindow(END + timedelta(days=30), END + timedelta(days=31), "audit")
    policy = Policy(freeze_windows=(FreezeWindow(START, END, "year-end"), later))
    refusal = rules.not_frozen(policy, registered_model=registered_model, now=later.start)
    assert_refused(refusal, FreezeWindowActive, "freeze_window", "(audit)", field="to")
    assert "year-end" not in refusal.message


# -- may_roll_back ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["reviewer", "superuser"])
def test_reviewers_roll_back(persona, name):
    assert rules.may_roll_back(persona(name)) is None


@pytest.mark.parametrize("name", ["publisher", "governance", "norole"])
def test_nobody_else_rolls_back(persona, registered_model, name):
    for kwargs in ({}, {"version": version(registered_model, stage=Stage.ARCHIVED)}):
        assert_refused(
            rules.may_roll_back(persona(name), **kwargs),
            NotAllowed,
            "permission_denied",
            "Only Reviewers can roll back Production.",
        )


def test_a_reviewer_rolls_back_to_an_archived_version_that_was_in_production(reviewer, registered_model):
    archived = version(registered_model, stage=Stage.ARCHIVED)
    assert rules.may_roll_back(reviewer, version=archived, ever_in_production=True) is None


def test_the_role_is_checked_before_the_version(publisher, registered_model):
    pending = version(registered_model, stage=Stage.ARCHIVED, status=VersionStatus.PENDING)
    assert_refused(rules.may_roll_back(publisher, version=pending), NotAllowed, "permission_denied")


def test_no_rollback_to_a_version_that_is_not_ready(reviewer, registered_model):
    failed = version(registered_model, stage=Stage.ARCHIVED, status=VersionStatus.FAILED)
    assert_refused(
        rules.may_roll_back(reviewer, version=failed), VersionNotReady, "version_not_ready", "v1 is failed"
    )


@pytest.mark.parametrize("stage", list(Stage))
def test_no_rollback_to_a_version_never_in_production(reviewer, registered_model, stage):
    v3 = version(registered_model, number=3, stage=stage)
    assert_refused(
        rules.may_roll_back(reviewer, version=v3, ever_in_production=False),
        NeverInProduction,
        "never_in_production",
        "v3 has never been in Production, so it cannot be rolled back to; request a promotion instead.",
        field="version",
    )


@pytest.mark.parametrize("stage", [Stage.NONE, Stage.STAGING, Stage.PRODUCTION])
def test_rollback_is_only_from_archived(reviewer, registered_model, stage):
    assert_refused(
        rules.may_roll_back(reviewer, version=version(registered_model, stage=stage)),
        InvalidTransition,
        "invalid_transition",
        f"Cannot roll back from stage '{stage}' to 'production'",
        "only an archived version that has been in Production before",
        field="to",
    )
