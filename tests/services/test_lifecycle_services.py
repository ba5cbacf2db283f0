"""Stage changes, transition requests, approvals, rollback and aliases through the service layer."""

import pytest

from models_app import services
from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.exceptions import (
    AlreadyVoted,
    ApprovalRequired,
    DuplicatePendingRequest,
    InvalidInput,
    InvalidTransition,
    NeverInProduction,
    NotAllowed,
    RequestAlreadyDecided,
    RollbackRequired,
    SelfApprovalForbidden,
    StaleState,
    VersionNotReady,
)
from models_app.ledger import verify_chain
from models_app.models import LedgerEntry, ModelVersion
from tests.conftest import nothing_written, promote, register


def stage_rows(version):
    return list(
        LedgerEntry.objects.filter(version=version, kind__in=["direct", "approved", "automatic", "rollback"])
        .order_by("id")
        .values_list("kind", "from_stage", "to_stage")
    )


@pytest.fixture
def v1(registered_model, publisher):
    return register(registered_model, publisher)


@pytest.fixture
def staged(v1, publisher):
    return services.version_transition(version=v1, to="staging", actor=publisher)


# -- direct moves ------------------------------------------------------------------------------


def test_a_publisher_moves_a_version_to_staging_and_back(v1, publisher):
    services.version_transition(version=v1, to=Stage.STAGING, actor=publisher, comment="smoke tests passed")
    services.version_transition(version=v1, to=Stage.NONE, actor=publisher)
    v1.refresh_from_db()
    assert v1.stage == Stage.NONE
    assert stage_rows(v1) == [("direct", "none", "staging"), ("direct", "staging", "none")]
    assert LedgerEntry.objects.filter(version=v1, kind="direct").first().actor_username == publisher.username


def test_production_needs_an_approved_request(staged, publisher, superuser):
    for actor in (publisher, superuser):
        with nothing_written(), pytest.raises(ApprovalRequired) as exc:
            services.version_transition(version=staged, to="production", actor=actor)
        assert exc.value.code == "approval_required"
    staged.refresh_from_db()
    assert staged.stage == Stage.STAGING


def test_illegal_moves_name_both_stages(v1, publisher):
    with nothing_written(), pytest.raises(InvalidTransition) as exc:
        services.version_transition(version=v1, to="production", actor=publisher)
    assert "'none'" in str(exc.value)
    assert "'production'" in str(exc.value)


def test_unknown_stage_is_bad_input(v1, publisher):
    with pytest.raises(InvalidInput) as exc:
        services.version_transition(version=v1, to="prod", actor=publisher)
    assert exc.value.field == "to"


def test_only_reviewers_archive(v1, publisher, reviewer):
    with nothing_written(), pytest.raises(NotAllowed):
        services.version_transition(version=v1, to="archived", actor=publisher)
    services.version_transition(version=v1, to="archived", actor=reviewer)
    v1.refresh_from_db()
    assert v1.stage == Stage.ARCHIVED


def test_outsiders_cannot_stage(v1, outsider, reviewer):
    for user in (outsider, reviewer):
        with nothing_written(), pytest.raises(NotAllowed):
            services.version_transition(version=v1, to="staging", actor=user)


def test_only_ready_versions_move(registered_model, publisher):
    pending = ModelVersion.objects.create(registered_model=registered_model, version=99, created_by=publisher)
    with nothing_written(), pytest.raises(VersionNotReady):
        services.version_transition(version=pending, to="staging", actor=publisher)


def test_an_archived_version_returns_to_production_only_by_rollback(v1, publisher, reviewer):
    promote(v1, publisher, reviewer)
    retire = services.transition_request_create(
        version=v1, to="archived", actor=publisher, comment="replaced by a rules engine"
    )
    services.transition_request_approve(transition_request=retire, actor=reviewer)
    v1.refresh_from_db()
    assert v1.stage == Stage.ARCHIVED
    with nothing_written(), pytest.raises(RollbackRequired):
        services.version_transition(version=v1, to="production", actor=reviewer)


# -- requests and approvals --------------------------------------------------------------------


def test_a_request_is_approved_by_another_reviewer(staged, publisher, reviewer):
    req = services.transition_request_create(
        version=staged, to="production", actor=publisher, comment="AUC up"
    )
    assert req.status == RequestStatus.PENDING
    services.transition_request_approve(transition_request=req, actor=reviewer, comment="looks good")
    req.refresh_from_db()
    staged.refresh_from_db()
    assert req.status == RequestStatus.APPROVED
    assert req.decided_at is not None
    assert staged.stage == Stage.PRODUCTION
    assert stage_rows(staged)[-1] == ("approved", "staging", "production")
    approved = LedgerEntry.objects.get(version=staged, kind="approved")
    assert approved.transition_request == req
    assert approved.actor == reviewer
    assert approved.comment == "looks good"


def test_the_requester_cannot_approve_even_as_a_reviewer(staged, role_groups, publisher, reviewer):
    publisher.groups.add(role_groups["Reviewers"])
    req = services.transition_request_create(version=staged, to="production", actor=publisher)
    from django.contrib.auth.models import User

    publisher = User.objects.get(pk=publisher.pk)
    with nothing_written(), pytest.raises(SelfApprovalForbidden):
        services.transition_request_approve(transition_request=req, actor=publisher)
    with nothing_written(), pytest.raises(SelfApprovalForbidden):
        services.transition_request_reject(transition_request=req, actor=publisher)
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING
    assert not req.approvals.exists()


def test_publishers_cannot_decide(staged, publisher, publisher2):
    req = services.transition_request_create(version=staged, to="production", actor=publisher)
    with nothing_written(), pytest.raises(NotAllowed):
        services.transition_request_approve(transition_request=req, actor=publisher2)


def test_two_required_approvals_need_two_distinct_reviewers(
    registered_model, governance, staged, publisher, reviewer, reviewer2
):
    services.registered_model_update(
        registered_model=registered_model, actor=governance, required_approvals=2
    )
    req = services.transition_request_create(version=staged, to="production", actor=publisher)
    services.transition_request_approve(transition_request=req, actor=reviewer)
    req.refresh_from_db()
    staged.refresh_from_db()
    assert req.status == RequestStatus.PENDING
    assert staged.stage == Stage.STAGING
    with nothing_written(), pytest.raises(AlreadyVoted):
        services.transition_request_approve(transition_request=req, actor=reviewer)
    services.transition_request_approve(transition_request=req, actor=reviewer2)
    req.refresh_from_db()
    staged.refresh_from_db()
    assert req.status == RequestStatus.APPROVED
    assert staged.stage == Stage.PRODUCTION
    assert req.approvals.count() == 2


def test_one_rejection_rejects(registered_model, governance, staged, publisher, reviewer, reviewer2):
    services.registered_model_update(
        registered_model=registered_model, actor=governance, required_approvals=2
    )
    req = services.transition_request_create(version=staged, to="production", actor=publisher)
    services.transition_request_approve(transition_request=req, actor=reviewer)
    services.transition_request_reject(transition_request=req, actor=reviewer2, comment="latency regressed")
    req.refresh_from_db()
    staged.refresh_from_db()
    assert req.status == RequestStatus.REJECTED
    assert staged.stage == Stage.STAGING
    with nothing_written(), pytest.raises(RequestAlreadyDecided):
        services.transition_request_approve(transition_request=req, actor=reviewer2)
    assert LedgerEntry.objects.get(kind=LedgerKind.REJECTION).comment == "latency regressed"


def test_the_requester_may_cancel_and_nobody_else(staged, publisher, publisher2, reviewer):
    req = services.transition_request_create(version=staged, to="production", actor=publisher)
    for other in (publisher2, reviewer):
        with nothing_written(), pytest.raises(NotAllowed):
            services.transition_request_cancel(transition_request=req, actor=other)
    services.transition_request_cancel(transition_request=req, actor=publisher, comment="wrong build")
    req.refresh_from_db()
    assert req.status == RequestStatus.CANCELLED
    with nothing_written(), pytest.raises(RequestAlreadyDecided):
        services.transition_request_approve(transition_request=req, actor=reviewer)


def test_one_pending_request_per_version_and_target(staged, publisher, publisher2):
    services.transition_request_create(version=staged, to="production", actor=publisher)
    with nothing_written(), pytest.raises(DuplicatePendingRequest):
        services.transition_request_create(version=staged, to="production", actor=publisher2)


def test_requests_are_only_for_production_from_staging(v1, publisher):
    with pytest.raises(InvalidInput) as exc:
        services.transition_request_create(version=v1, to="staging", actor=publisher)
    assert exc.value.field == "to"
    with nothing_written(), pytest.raises(InvalidTransition):
        services.transition_request_create(version=v1, to="production", actor=publisher)


def test_outsiders_cannot_request(staged, outsider):
    with nothing_written(), pytest.raises(NotAllowed):
        services.transition_request_create(version=staged, to="production", actor=outsider)


def test_leaving_staging_cancels_pending_requests(staged, publisher, reviewer):
    req = services.transition_request_create(version=staged, to="production", actor=publisher)
    services.version_transition(version=staged, to="none", actor=publisher)
    req.refresh_from_db()
    assert req.status == RequestStatus.CANCELLED
    with nothing_written(), pytest.raises(RequestAlreadyDecided):
        services.transition_request_approve(transition_request=req, actor=reviewer)


def test_approving_a_request_whose_version_left_staging_is_stale(staged, publisher, reviewer):
    req = services.transition_request_create(version=staged, to="production", actor=publisher)
    # Simulate a version moved by a path that did not close the request.
    ModelVersion.objects.filter(pk=staged.pk).update(stage=Stage.ARCHIVED)
    with nothing_written(), pytest.raises(StaleState):
        services.transition_request_approve(transition_request=req, actor=reviewer)
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING
    assert not req.approvals.exists()


def test_promotion_archives_the_previous_production_version(registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    req = promote(v2, publisher, reviewer)
    v1.refresh_from_db()
    assert (v1.stage, v2.stage) == (Stage.ARCHIVED, Stage.PRODUCTION)
    automatic = LedgerEntry.objects.get(kind=LedgerKind.AUTOMATIC)
    assert (automatic.version, automatic.from_stage, automatic.to_stage) == (v1, "production", "archived")
    assert automatic.transition_request == req
    # The archive is written before the promotion, in the same transaction.
    assert automatic.id < LedgerEntry.objects.get(version=v2, kind=LedgerKind.APPROVED).id
    assert ModelVersion.objects.filter(registered_model=registered_model, stage="production").count() == 1


# -- rollback ----------------------------------------------------------------------------------


@pytest.fixture
def two_productions(registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer)
    return v1, v2


def test_a_reviewer_rolls_back_with_a_reason(registered_model, two_productions, reviewer2):
    v1, v2 = two_productions
    services.version_rollback(
        registered_model=registered_model, version_number=1, actor=reviewer2, reason="v2 error rate spiked"
    )
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.stage, v2.stage) == (Stage.PRODUCTION, Stage.ARCHIVED)
    assert stage_rows(v1)[-1] == ("rollback", "archived", "production")
    assert stage_rows(v2)[-1] == ("automatic", "production", "archived")
    assert LedgerEntry.objects.get(kind=LedgerKind.ROLLBACK).comment == "v2 error rate spiked"


def test_rollback_needs_a_reason(registered_model, two_productions, reviewer):
    with pytest.raises(InvalidInput) as exc:
        services.version_rollback(
            registered_model=registered_model, version_number=1, actor=reviewer, reason="  "
        )
    assert exc.value.field == "reason"


def test_rollback_is_for_reviewers(registered_model, two_productions, publisher):
    with nothing_written(), pytest.raises(NotAllowed):
        services.version_rollback(
            registered_model=registered_model, version_number=1, actor=publisher, reason="x"
        )


def test_rollback_only_to_a_version_that_was_in_production(
    registered_model, two_productions, publisher, reviewer
):
    v3 = register(registered_model, publisher)
    services.version_transition(version=v3, to="archived", actor=reviewer)
    with nothing_written(), pytest.raises(NeverInProduction) as exc:
        services.version_rollback(
            registered_model=registered_model, version_number=3, actor=reviewer, reason="x"
        )
    assert exc.value.field == "version"


def test_rollback_of_the_current_production_version_is_refused(registered_model, two_productions, reviewer):
    with nothing_written(), pytest.raises(InvalidTransition):
        services.version_rollback(
            registered_model=registered_model, version_number=2, actor=reviewer, reason="x"
        )


# -- aliases -----------------------------------------------------------------------------------


def test_aliases_move_with_compare_and_set_and_are_ledgered(registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    v2 = register(registered_model, publisher)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    with nothing_written(), pytest.raises(StaleState) as exc:
        services.alias_set(
            registered_model=registered_model,
            alias="champion",
            version_number=2,
            actor=publisher,
            expected_version=2,
        )
    assert exc.value.field == "expected_version"
    services.alias_set(
        registered_model=registered_model,
        alias="champion",
        version_number=2,
        actor=reviewer,
        expected_version=1,
    )
    assert v2.aliases.get().name == "champion"
    with nothing_written(), pytest.raises(StaleState):
        services.alias_delete(
            registered_model=registered_model, alias="champion", actor=publisher, expected_version=1
        )
    services.alias_delete(
        registered_model=registered_model, alias="champion", actor=publisher, expected_version=2
    )
    assert not v1.aliases.exists()
    assert not v2.aliases.exists()
    rows = list(LedgerEntry.objects.filter(alias="champion").order_by("id").values_list("kind", "details"))
    assert rows == [
        ("alias_set", {"from_version": None, "to_version": 1}),
        ("alias_set", {"from_version": 1, "to_version": 2}),
        ("alias_removed", {"from_version": 2, "to_version": None}),
    ]


@pytest.mark.parametrize("alias", ["production", "latest", "Bad", "1st", "a b", ""])
def test_reserved_or_malformed_aliases_are_refused(registered_model, publisher, alias):
    register(registered_model, publisher)
    with pytest.raises(InvalidInput) as exc:
        services.alias_set(registered_model=registered_model, alias=alias, version_number=1, actor=publisher)
    assert exc.value.field == "alias"


def test_outsiders_cannot_move_aliases(registered_model, publisher, outsider):
    register(registered_model, publisher)
    with nothing_written(), pytest.raises(NotAllowed):
        services.alias_set(
            registered_model=registered_model, alias="champion", version_number=1, actor=outsider
        )


def test_the_whole_story_keeps_the_chain_valid(registered_model, two_productions, reviewer):
    services.version_rollback(registered_model=registered_model, version_number=1, actor=reviewer, reason="r")
    report = verify_chain()
    assert report.ok
    assert report.checked == LedgerEntry.objects.count()
