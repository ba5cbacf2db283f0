"""rules.needs_request, rules.may_request, rules.may_request_for, rules.gates_pass,
rules.request_applicable, rules.may_decide, rules.may_decide_request and rules.may_cancel."""

import pytest

from models_app import rules
from models_app.choices import RequestStatus, Stage, VersionStatus
from models_app.exceptions import (
    AlreadyVoted,
    DuplicatePendingRequest,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    PolicyGateFailed,
    RequestAlreadyDecided,
    SelfApprovalForbidden,
    StaleState,
    VersionNotReady,
)
from models_app.policies import MetricGate, Policy
from tests.rules.facts import assert_refused, transition_request, version

DECIDED = [RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CANCELLED]


def test_production_needs_a_request():
    assert rules.needs_request(Stage.PRODUCTION) is None


@pytest.mark.parametrize("target", [Stage.NONE, Stage.STAGING, Stage.ARCHIVED])
def test_other_moves_need_no_request(target):
    refusal = rules.needs_request(target)
    assert_refused(refusal, InvalidInput, "invalid", field="to")
    assert refusal.message == f"Moving to '{target}' needs no approval; make the move directly instead."


# -- may_request, may_request_for -------------------------------------------------------------------------


@pytest.fixture
def staged(registered_model):
    return version(registered_model, stage=Stage.STAGING)


@pytest.mark.parametrize("name", ["publisher", "publisher2", "superuser"])
def test_team_publishers_request_production_for_a_staged_version(persona, staged, name):
    assert (
        rules.may_request(persona(name), version=staged, target=Stage.PRODUCTION, has_pending=False) is None
    )


@pytest.mark.parametrize("name", ["outsider", "reviewer", "governance", "norole", "inactive_publisher"])
def test_nobody_else_requests(persona, staged, name):
    assert_refused(
        rules.may_request(persona(name), version=staged, target=Stage.PRODUCTION, has_pending=False),
        NotAllowed,
        "permission_denied",
        "Only Publishers of team 'fraud-team' can request promotions of 'fraud-detector'.",
    )


def test_a_move_that_needs_no_approval_is_refused_first(outsider, registered_model):
    pending = version(registered_model, status=VersionStatus.PENDING)
    assert_refused(
        rules.may_request(outsider, version=pending, target=Stage.STAGING, has_pending=True),
        InvalidInput,
        "invalid",
        "needs no approval",
        field="to",
    )


def test_a_version_that_is_not_ready_cannot_be_requested(publisher, registered_model):
    pending = version(registered_model, stage=Stage.STAGING, status=VersionStatus.PENDING)
    assert_refused(
        rules.may_request(publisher, version=pending, target=Stage.PRODUCTION, has_pending=False),
        VersionNotReady,
        "version_not_ready",
        "v1 is pending; only ready versions can change stage.",
    )


@pytest.mark.parametrize("stage", [Stage.NONE, Stage.PRODUCTION, Stage.ARCHIVED])
def test_only_a_staged_version_can_be_requested(publisher, registered_model, stage):
    assert_refused(
        rules.may_request(
            publisher,
            version=version(registered_model, stage=stage),
            target=Stage.PRODUCTION,
            has_pending=False,
        ),
        InvalidTransition,
        "invalid_transition",
        f"Cannot move a version from stage '{stage}' to stage 'production'.",
        field="to",
    )


def test_one_pending_request_at_a_time(publisher, staged):
    assert_refused(
        rules.may_request(publisher, version=staged, target=Stage.PRODUCTION, has_pending=True),
        DuplicatePendingRequest,
        "duplicate_request",
        "v1 already has a pending request to move to production.",
        field="version",
    )


@pytest.mark.parametrize("name", ["publisher", "publisher2", "superuser"])
def test_team_publishers_may_request_for_the_model(persona, registered_model, name):
    assert rules.may_request_for(persona(name), registered_model=registered_model) is None


@pytest.mark.parametrize("name", ["outsider", "reviewer", "governance", "norole"])
def test_nobody_else_may_request_for_the_model(persona, registered_model, name):
    assert_refused(
        rules.may_request_for(persona(name), registered_model=registered_model),
        NotAllowed,
        "permission_denied",
        "Only Publishers of team 'fraud-team' can request promotions of 'fraud-detector'.",
    )


# -- gates_pass -------------------------------------------------------------------------------------------

GATES = Policy(metric_gates=(MetricGate("accuracy", ">=", 0.92), MetricGate("latency_ms", "<", 50)))


def test_without_gates_every_version_passes(registered_model):
    assert (
        rules.gates_pass(Policy(), registered_model=registered_model, version=version(registered_model))
        is None
    )


def test_a_version_meeting_every_gate_passes(registered_model):
    good = version(registered_model, metrics={"accuracy": 0.92, "latency_ms": 49})
    assert rules.gates_pass(GATES, registered_model=registered_model, version=good) is None


def test_failing_gates_are_each_named_with_what_they_need(registered_model):
    weak = version(registered_model, number=2, metrics={"accuracy": 0.9})
    refusal = rules.gates_pass(GATES, registered_model=registered_model, version=weak)
    assert_refused(refusal, PolicyGateFailed, "policy_gate_failed", field="metrics")
    assert refusal.message == (
        "v2 of 'fraud-detector' fails the Production gates: accuracy is 0.9 (needs >= 0.92); "
        "latency_ms is not recorded (needs < 50)."
    )


def test_one_failing_gate_of_several_is_enough_to_refuse(registered_model):
    slow = version(registered_model, metrics={"accuracy": 0.99, "latency_ms": 50})
    refusal = rules.gates_pass(GATES, registered_model=registered_model, version=slow)
    assert_refused(
        refusal, PolicyGateFailed, "policy_gate_failed", "latency_ms is 50 (needs < 50)", field="metrics"
    )
    assert "accuracy" not in refusal.message


# -- request_applicable -----------------------------------------------------------------------------------


def test_an_approved_request_applies_while_its_version_is_in_staging(publisher, staged):
    req = transition_request(staged, requested_by=publisher, status=RequestStatus.APPROVED)
    assert rules.request_applicable(transition_request=req, version=staged) is None


@pytest.mark.parametrize("stage", [Stage.NONE, Stage.PRODUCTION, Stage.ARCHIVED])
def test_a_request_whose_version_left_staging_is_stale(publisher, registered_model, stage):
    moved = version(registered_model, stage=stage)
    req = transition_request(moved, requested_by=publisher)
    refusal = rules.request_applicable(transition_request=req, version=moved)
    assert_refused(refusal, StaleState, "stale_state")
    assert refusal.message == f"v1 is in {stage} now, no longer in Staging; the request cannot be applied."


def test_a_request_for_a_move_the_table_forbids_is_not_applied(publisher, staged):
    req = transition_request(staged, requested_by=publisher, target=Stage.STAGING)
    assert_refused(
        rules.request_applicable(transition_request=req, version=staged),
        InvalidTransition,
        "invalid_transition",
        "from stage 'staging' to stage 'staging'",
        field="to",
    )


# -- may_decide, may_decide_request -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["reviewer", "reviewer2", "superuser"])
def test_reviewers_decide(persona, name):
    assert rules.may_decide(persona(name)) is None


@pytest.mark.parametrize("name", ["publisher", "governance", "outsider", "norole"])
def test_nobody_else_decides(persona, name):
    assert_refused(
        rules.may_decide(persona(name)),
        NotAllowed,
        "permission_denied",
        "Only Reviewers can approve or reject transition requests.",
    )


@pytest.fixture
def pending_request(staged, publisher):
    return transition_request(staged, requested_by=publisher)


def test_a_reviewer_decides_a_pending_request_of_someone_else(reviewer, pending_request):
    assert rules.may_decide_request(reviewer, transition_request=pending_request, decided_by=[]) is None


def test_a_second_reviewer_decides_after_the_first(reviewer, reviewer2, pending_request):
    decided = iter([reviewer.pk])  # any iterable of ids
    assert rules.may_decide_request(reviewer2, transition_request=pending_request, decided_by=decided) is None


@pytest.mark.parametrize("status", DECIDED)
def test_a_decided_request_is_not_decided_again(reviewer, staged, publisher, status):
    req = transition_request(staged, requested_by=publisher, pk=12, status=status)
    refusal = rules.may_decide_request(reviewer, transition_request=req, decided_by=[])
    assert_refused(refusal, RequestAlreadyDecided, "already_decided")
    assert refusal.message == f"Request #12 is already {status}."


def test_the_requester_never_decides_even_as_a_reviewer(reviewer, staged):
    req = transition_request(staged, requested_by=reviewer)
    assert_refused(
        rules.may_decide_request(reviewer, transition_request=req, decided_by=[]),
        SelfApprovalForbidden,
        "self_approval_forbidden",
        "You requested this transition, so you cannot approve or reject it; another reviewer must.",
    )


def test_the_superuser_does_not_decide_their_own_request(superuser, staged):
    req = transition_request(staged, requested_by=superuser)
    refusal = rules.may_decide_request(superuser, transition_request=req, decided_by=[])
    assert_refused(refusal, SelfApprovalForbidden, "self_approval_forbidden")


@pytest.mark.parametrize("name", ["publisher2", "governance", "outsider"])
def test_only_reviewers_decide_a_request(persona, pending_request, name):
    assert_refused(
        rules.may_decide_request(persona(name), transition_request=pending_request, decided_by=[]),
        NotAllowed,
        "permission_denied",
        "Only Reviewers can approve or reject",
    )


def test_a_reviewer_decides_once(reviewer, reviewer2, pending_request):
    refusal = rules.may_decide_request(
        reviewer, transition_request=pending_request, decided_by=[reviewer2.pk, reviewer.pk]
    )
    assert_refused(refusal, AlreadyVoted, "already_decided_by_you")
    assert refusal.message == "You have already decided on request #7."


# -- may_cancel -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["publisher", "superuser"])
def test_the_requester_or_a_superuser_cancels(persona, pending_request, name):
    assert rules.may_cancel(persona(name), transition_request=pending_request) is None


@pytest.mark.parametrize("name", ["publisher2", "reviewer", "governance"])
def test_nobody_else_cancels(persona, pending_request, name):
    assert_refused(
        rules.may_cancel(persona(name), transition_request=pending_request),
        NotAllowed,
        "permission_denied",
        "Only the requester can cancel a transition request.",
    )


@pytest.mark.parametrize("status", DECIDED)
def test_a_decided_request_cannot_be_cancelled(publisher, staged, status):
    req = transition_request(staged, requested_by=publisher, pk=3, status=status)
    refusal = rules.may_cancel(publisher, transition_request=req)
    assert_refused(refusal, RequestAlreadyDecided, "already_decided")
    assert refusal.message == f"Request #3 is already {status}."
