"""The rules of leaving Production and of protected aliases: rules.retirement_needs_request (through
rules.may_move), rules.needs_request for the Production version, rules.may_request for a retirement,
rules.alias_unprotected, rules.may_request_alias, rules.request_applicable for each kind, and
rules.may_read_policy."""

from __future__ import annotations

import pytest

from models_app import rules
from models_app.choices import RequestStatus, Stage, VersionStatus
from models_app.exceptions import (
    ApprovalRequired,
    DuplicatePendingRequest,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    StaleState,
    VersionPurged,
)
from models_app.models import TransitionRequest
from models_app.policies import Policy
from tests.rules.facts import assert_refused, transition_request, version

PROTECTED = Policy(protected_aliases=("champion",))


@pytest.mark.parametrize("target", [Stage.ARCHIVED, Stage.STAGING, Stage.NONE])
@pytest.mark.parametrize("name", ["reviewer", "publisher", "superuser", "governance"])
def test_the_production_version_never_moves_directly(persona, registered_model, name, target):
    live = version(registered_model, number=4, stage=Stage.PRODUCTION)
    assert_refused(
        rules.may_move(persona(name), version=live, target=target),
        ApprovalRequired,
        "approval_required",
        "v4 of 'fraud-detector' is in Production; moving it out needs an approved request",
        '{"model": "fraud-detector", "version": 4, "to": "archived", "comment": "<reason>"}',
        "or promote another version to replace it",
        field="stage",
    )


def test_leaving_production_needs_a_request_and_other_moves_still_do_not(registered_model):
    assert rules.needs_request(Stage.ARCHIVED, current=Stage.PRODUCTION) is None
    assert_refused(
        rules.needs_request(Stage.ARCHIVED, current=Stage.STAGING), InvalidInput, "invalid", field="to"
    )


@pytest.mark.parametrize("name", ["publisher", "publisher2", "reviewer", "superuser"])
def test_team_publishers_and_reviewers_request_a_retirement(persona, registered_model, name):
    live = version(registered_model, stage=Stage.PRODUCTION)
    assert rules.may_request(persona(name), version=live, target=Stage.ARCHIVED, has_pending=False) is None


@pytest.mark.parametrize("name", ["outsider", "governance", "norole"])
def test_nobody_else_requests_a_retirement(persona, registered_model, name):
    live = version(registered_model, stage=Stage.PRODUCTION)
    assert_refused(
        rules.may_request(persona(name), version=live, target=Stage.ARCHIVED, has_pending=False),
        NotAllowed,
        "permission_denied",
        "Only Publishers of team 'fraud-team' or Reviewers can request the retirement of 'fraud-detector'.",
    )


def test_a_retirement_goes_only_to_archived_and_once_at_a_time(persona, registered_model):
    live = version(registered_model, stage=Stage.PRODUCTION)
    publisher = persona("publisher")
    assert_refused(
        rules.may_request(publisher, version=live, target=Stage.STAGING, has_pending=False),
        InvalidTransition,
        "invalid_transition",
        field="to",
    )
    assert_refused(
        rules.may_request(publisher, version=live, target=Stage.ARCHIVED, has_pending=True),
        DuplicatePendingRequest,
        "duplicate_request",
        "v1 already has a pending request to move to archived.",
        field="version",
    )


# -- protected aliases ------------------------------------------------------------------------------------


def test_an_unprotected_alias_moves_directly(registered_model):
    assert rules.alias_unprotected(PROTECTED, registered_model=registered_model, alias="candidate") is None
    assert rules.alias_unprotected(Policy(), registered_model=registered_model, alias="champion") is None


def test_a_protected_alias_is_moved_by_request_and_removed_only_once_unprotected(registered_model):
    assert_refused(
        rules.alias_unprotected(
            PROTECTED, registered_model=registered_model, alias="champion", version_number=3
        ),
        ApprovalRequired,
        "approval_required",
        "'@champion' of 'fraud-detector' is a protected alias; moving it needs an approved request",
        '{"model": "fraud-detector", "version": 3, "to": "@champion", "comment": "<why>"}',
        field="alias",
    )
    assert_refused(
        rules.alias_unprotected(
            PROTECTED, registered_model=registered_model, alias="champion", removing=True
        ),
        ApprovalRequired,
        "approval_required",
        "it is never removed directly",
        "PUT /api/v1/models/fraud-detector/policy/",
        field="alias",
    )


@pytest.mark.parametrize("name", ["publisher", "reviewer", "superuser"])
def test_the_team_and_reviewers_request_a_protected_alias(persona, registered_model, name):
    v = version(registered_model, number=2)
    assert (
        rules.may_request_alias(
            persona(name), version=v, alias="champion", policy=PROTECTED, has_pending=False
        )
        is None
    )


def test_an_alias_request_needs_a_protected_alias_a_usable_version_and_no_twin(persona, registered_model):
    publisher = persona("publisher")
    v = version(registered_model, number=2)
    assert_refused(
        rules.may_request_alias(publisher, version=v, alias="candidate", policy=PROTECTED, has_pending=False),
        InvalidInput,
        "invalid",
        "PUT /api/v1/models/fraud-detector/aliases/candidate/",
        field="to",
    )
    purged = version(registered_model, number=2, stage=Stage.ARCHIVED, status=VersionStatus.PURGED)
    assert_refused(
        rules.may_request_alias(
            publisher, version=purged, alias="champion", policy=PROTECTED, has_pending=False
        ),
        VersionPurged,
        "version_purged",
    )
    assert_refused(
        rules.may_request_alias(publisher, version=v, alias="champion", policy=PROTECTED, has_pending=True),
        DuplicatePendingRequest,
        "duplicate_request",
        field="version",
    )
    assert_refused(
        rules.may_request_alias(
            publisher, version=v, alias="champion", policy=PROTECTED, has_pending=False, points_at=2
        ),
        InvalidInput,
        "invalid",
        "'@champion' already points at v2.",
        field="version",
    )
    assert_refused(
        rules.may_request_alias(
            persona("outsider"), version=v, alias="champion", policy=PROTECTED, has_pending=False
        ),
        NotAllowed,
        "permission_denied",
    )


# -- applying ----------------------------------------------------------------------------------------


def test_a_retirement_applies_while_its_version_is_in_production(persona, registered_model):
    live = version(registered_model, stage=Stage.PRODUCTION)
    req = transition_request(live, requested_by=persona("publisher"), target=Stage.ARCHIVED)
    assert rules.request_applicable(transition_request=req, version=live) is None
    gone = version(registered_model, stage=Stage.ARCHIVED)
    refusal = rules.request_applicable(transition_request=req, version=gone)
    assert_refused(refusal, StaleState, "stale_state")
    assert refusal.message == "v1 is in archived now, no longer in Production; the request cannot be applied."


def test_an_alias_request_applies_while_its_version_is_usable(persona, registered_model):
    ready = version(registered_model, stage=Stage.ARCHIVED)
    req = TransitionRequest(
        pk=9,
        version=ready,
        target_stage="",
        target_alias="champion",
        status=RequestStatus.PENDING,
        requested_by=persona("publisher"),
    )
    assert rules.request_applicable(transition_request=req, version=ready) is None
    purged = version(registered_model, stage=Stage.ARCHIVED, status=VersionStatus.PURGED)
    assert_refused(
        rules.request_applicable(transition_request=req, version=purged), VersionPurged, "version_purged"
    )


# -- the policy document -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["publisher", "team_member_without_role", "governance", "superuser"])
def test_the_team_and_governance_read_the_policy(persona, registered_model, name):
    assert rules.may_read_policy(persona(name), registered_model=registered_model) is None


@pytest.mark.parametrize("name", ["outsider", "reviewer", "norole"])
def test_nobody_else_reads_the_policy(persona, registered_model, name):
    assert_refused(
        rules.may_read_policy(persona(name), registered_model=registered_model),
        NotAllowed,
        "permission_denied",
        "Only members of team 'fraud-team' or Governance can read the policy of 'fraud-detector'.",
    )
