"""Point-in-time answers from the ledger alone: which version was in Production at T, who approved it,
on what evidence, under which policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection

from models_app import selectors, services
from models_app.choices import LedgerKind, Stage
from models_app.models import Approval, LedgerEntry, TransitionRequest
from tests.conftest import promote, register
from tests.trust.tamper import superpowers

GATES = [{"metric": "accuracy", "op": ">=", "value": 0.92}]


def moment():
    """The newest ledger row's time: a 'T' right after the last change."""
    return LedgerEntry.objects.order_by("-id").first().created_at


@pytest.fixture
def story(registered_model, publisher, reviewer, reviewer2, governance):
    """v1 promoted (one approval), then a policy of two approvals and a gate, v2 promoted by two
    reviewers, then a rollback to v1. Returns the moments between the chapters."""
    marks = {"empty": registered_model.created_at}
    v1 = register(registered_model, publisher, metadata={"metrics": {"accuracy": 0.93}})
    promote(v1, publisher, reviewer, comment="offline eval looks good")
    marks["v1"] = moment()
    services.promotion_policy_set(
        registered_model=registered_model,
        actor=governance,
        metric_gates=GATES,
        required_approvals=2,
        comment="two-person rule",
    )
    marks["policy"] = moment()
    v2 = register(registered_model, publisher, metadata={"metrics": {"accuracy": 0.95}})
    services.version_transition(version=v2, to="staging", actor=publisher)
    req = services.transition_request_create(
        version=v2, to="production", actor=publisher, comment="retrained on March data"
    )
    services.transition_request_approve(transition_request=req, actor=reviewer, comment="A/B +2%")
    marks["v2_half"] = moment()
    services.transition_request_approve(transition_request=req, actor=reviewer2, comment="shadow run clean")
    marks["v2"] = moment()
    services.alias_set(registered_model=registered_model, alias="champion", version_number=2, actor=publisher)
    marks["alias"] = moment()
    services.version_rollback(
        registered_model=registered_model, version_number=1, actor=reviewer2, reason="v2 latency regression"
    )
    marks["rollback"] = moment()
    return marks


def at(model, when):
    return selectors.registered_model_history_at(registered_model=model, at=when)


def test_before_anything_nothing_held_a_stage(story, registered_model):
    snap = at(registered_model, story["empty"])
    assert snap.production_version is None and snap.production_entry is None
    assert snap.stages == {Stage.PRODUCTION: [], Stage.STAGING: [], Stage.ARCHIVED: [], Stage.NONE: []}
    assert snap.policy is None


def test_after_the_first_promotion(story, registered_model, publisher, reviewer):
    snap = at(registered_model, story["v1"])
    assert snap.production_version == 1
    assert snap.production_entry.kind == LedgerKind.APPROVED
    assert snap.approved_by == [reviewer.username]
    assert [r.comment for r in snap.production_approvals] == ["offline eval looks good"]
    assert snap.production_request.actor_username == publisher.username


def test_half_approved_v2_is_not_yet_production(story, registered_model):
    snap = at(registered_model, story["v2_half"])
    assert snap.production_version == 1
    assert snap.stages[Stage.STAGING] == [2]
    assert snap.policy["required_approvals"] == 2
    assert snap.policy["metric_gates"] == GATES


def test_after_v2_who_approved_and_on_what_evidence(story, registered_model, publisher, reviewer, reviewer2):
    snap = at(registered_model, story["v2"])
    assert snap.production_version == 2
    assert snap.stages[Stage.ARCHIVED] == [1]
    assert snap.approved_by == [reviewer.username, reviewer2.username]
    assert [r.comment for r in snap.production_approvals] == ["A/B +2%", "shadow run clean"]
    assert [r.details["groups"] for r in snap.production_approvals] == [["Reviewers"], ["Reviewers"]]
    request = snap.production_request
    assert (request.actor_username, request.comment) == (publisher.username, "retrained on March data")
    assert request.details["gates"] == [{"gate": "accuracy >= 0.92", "value": 0.95, "passed": True}]
    assert snap.production_entry.actor_username == reviewer2.username
    assert snap.aliases == {}


def test_after_the_rollback_the_reason_is_the_evidence(story, registered_model, reviewer2):
    snap = at(registered_model, story["rollback"])
    assert snap.production_version == 1
    assert snap.stages[Stage.ARCHIVED] == [2]
    assert snap.aliases == {"champion": 2}
    entry = snap.production_entry
    assert (entry.kind, entry.actor_username, entry.comment) == (
        LedgerKind.ROLLBACK,
        reviewer2.username,
        "v2 latency regression",
    )
    assert snap.production_request is None and snap.production_approvals == []


def test_the_answers_come_from_the_ledger_alone(story, registered_model, reviewer, reviewer2):
    """Scramble the working tables (as a later bug or a careless script might): the history stands."""
    with superpowers(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Approval._meta.db_table} SET comment = 'rewritten'")
        cursor.execute(f"UPDATE {TransitionRequest._meta.db_table} SET comment = 'rewritten'")
    User.objects.filter(pk=reviewer.pk).update(username="renamed-reviewer")
    snap = at(registered_model, story["v2"])
    assert snap.approved_by == ["rita-reviewer", reviewer2.username]
    assert [r.comment for r in snap.production_approvals] == ["A/B +2%", "shadow run clean"]
    assert snap.production_request.comment == "retrained on March data"


def test_a_moment_between_rows_sees_only_earlier_rows(story, registered_model):
    just_before = story["v2"] - timedelta(microseconds=1)
    assert at(registered_model, just_before).production_version in (
        1,
        2,
    )  # the two rows may share a clock tick
    assert at(registered_model, story["v2_half"]).production_version == 1


def test_every_moment_matches_the_stages_replayed_by_hand(story, registered_model):
    """At each ledger row's time, the snapshot agrees with a plain replay of stage-change rows."""
    rows = list(LedgerEntry.objects.filter(registered_model=registered_model).order_by("id"))
    for row in rows:
        expected: dict[int, str] = {}
        for earlier in rows:
            if earlier.created_at > row.created_at:
                continue
            if earlier.kind == LedgerKind.REGISTERED:
                expected[earlier.version.version] = Stage.NONE
            elif earlier.kind in (
                LedgerKind.DIRECT,
                LedgerKind.APPROVED,
                LedgerKind.AUTOMATIC,
                LedgerKind.ROLLBACK,
            ):
                expected[earlier.version.version] = earlier.to_stage
        snap = at(registered_model, row.created_at)
        got = {n: stage for stage, numbers in snap.stages.items() for n in numbers}
        assert got == expected
        assert len(snap.stages[Stage.PRODUCTION]) <= 1
