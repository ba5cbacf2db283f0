"""Four-eyes transition requests: create, approve, reject, cancel."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from models_app import policies, roles
from models_app.choices import (
    Decision,
    LedgerKind,
    RequestStatus,
    Stage,
)
from models_app.exceptions import (
    AlreadyVoted,
    DuplicatePendingRequest,
    InvalidInput,
    RequestAlreadyDecided,
    SelfApprovalForbidden,
    StaleState,
    VersionNotReady,
)
from models_app.lifecycle import REQUIRES_APPROVAL, check_transition
from models_app.models import (
    Approval,
    ModelVersion,
    RegisteredModel,
    TransitionRequest,
)
from models_app.services._shared import (
    _clean_comment,
    _clean_stage,
    _lock_model,
    _promote,
    _record,
    _refresh_version,
    _require,
)


def transition_request_create(
    *, version: ModelVersion, to: Stage | str, requested_by, comment: str = ""
) -> TransitionRequest:
    """Ask for a version to be promoted to a stage that needs approval (Production)."""
    target = _clean_stage(to)
    comment = _clean_comment(comment)
    if target not in REQUIRES_APPROVAL:
        raise InvalidInput(
            f"Moving to '{target}' needs no approval; make the move directly instead.", field="to"
        )
    with transaction.atomic():
        model = _lock_model(version.registered_model_id)
        version = _refresh_version(version)
        _require(
            roles.can_publish(requested_by, model),
            f"Only Publishers of team '{model.team.name}' can request promotions of '{model.name}'.",
        )
        if not version.is_ready:
            raise VersionNotReady(
                f"v{version.version} is {version.status}; only ready versions change stage."
            )
        check_transition(Stage(version.stage), target)
        if TransitionRequest.objects.filter(
            version=version, target_stage=target, status=RequestStatus.PENDING
        ).exists():
            raise DuplicatePendingRequest(
                f"v{version.version} already has a pending request to move to {target}.", field="version"
            )
        evidence = policies.check_gates(registered_model=model, version=version)
        now = timezone.now()
        req = TransitionRequest.objects.create(
            version=version, target_stage=target, requested_by=requested_by, comment=comment, created_at=now
        )
        _record(
            registered_model=model,
            version=version,
            kind=LedgerKind.REQUESTED,
            from_stage="",
            to_stage="",
            actor=requested_by,
            transition_request=req,
            comment=comment,
            details={"target_stage": str(target), **evidence},
            now=now,
        )
    return req


def _lock_request(transition_request: TransitionRequest) -> tuple[RegisteredModel, TransitionRequest]:
    # Lock order everywhere: model first, then request.
    model_id = (
        ModelVersion.objects.filter(pk=transition_request.version_id)
        .values_list("registered_model_id", flat=True)
        .get()
    )
    model = _lock_model(model_id)
    req = (
        TransitionRequest.objects.select_for_update().select_related("version").get(pk=transition_request.pk)
    )
    return model, req


def _check_decider(req: TransitionRequest, reviewer) -> None:
    if req.status != RequestStatus.PENDING:
        raise RequestAlreadyDecided(f"Request #{req.pk} is already {req.status}.")
    if req.requested_by_id == reviewer.pk:
        raise SelfApprovalForbidden()
    _require(roles.can_decide(reviewer), "Only Reviewers can approve or reject transition requests.")
    if Approval.objects.filter(transition_request=req, reviewer=reviewer).exists():
        raise AlreadyVoted(f"You have already decided on request #{req.pk}.")


def transition_request_approve(
    *, transition_request: TransitionRequest, reviewer, comment: str = ""
) -> TransitionRequest:
    """Record one reviewer's approval; when enough distinct reviewers approved, apply the move.

    Applying a promotion to Production archives the previous Production version in the same transaction.
    """
    comment = _clean_comment(comment)
    with transaction.atomic():
        model, req = _lock_request(transition_request)
        _check_decider(req, reviewer)
        # The policy may have been tightened since the request: re-check before counting the approval.
        policies.check_gates(registered_model=model, version=req.version)
        now = timezone.now()
        Approval.objects.create(
            transition_request=req,
            reviewer=reviewer,
            requester_id=req.requested_by_id,
            decision=Decision.APPROVE,
            comment=comment,
            created_at=now,
        )
        version = _refresh_version(req.version)
        _record(
            registered_model=model,
            version=version,
            kind=LedgerKind.APPROVAL,
            actor=reviewer,
            transition_request=req,
            comment=comment,
            details=policies.reviewer_evidence(reviewer),
            now=now,
        )
        approvals = req.approvals.filter(decision=Decision.APPROVE).aggregate(
            n=Count("reviewer", distinct=True)
        )["n"]
        if approvals >= model.required_approvals and not policies.missing_group_approvals(
            registered_model=model, transition_request=req
        ):
            current = Stage(version.stage)
            if current != Stage.STAGING:
                raise StaleState(
                    f"v{version.version} is in {current} now, no longer in Staging; the request cannot be applied."
                )
            check_transition(current, Stage(req.target_stage))
            policies.check_freeze(registered_model=model, now=now)
            req.status = RequestStatus.APPROVED
            req.decided_at = now
            req.save(update_fields=["status", "decided_at"])
            _promote(
                version,
                kind=LedgerKind.APPROVED,
                actor=reviewer,
                registered_model=model,
                transition_request=req,
                comment=comment,
                now=now,
            )
    return req


def transition_request_reject(
    *, transition_request: TransitionRequest, reviewer, comment: str = ""
) -> TransitionRequest:
    """Reject a request; one rejection closes it."""
    comment = _clean_comment(comment)
    with transaction.atomic():
        model, req = _lock_request(transition_request)
        _check_decider(req, reviewer)
        now = timezone.now()
        Approval.objects.create(
            transition_request=req,
            reviewer=reviewer,
            requester_id=req.requested_by_id,
            decision=Decision.REJECT,
            comment=comment,
            created_at=now,
        )
        req.status = RequestStatus.REJECTED
        req.decided_at = now
        req.save(update_fields=["status", "decided_at"])
        _record(
            registered_model=model,
            version=req.version,
            kind=LedgerKind.REJECTION,
            actor=reviewer,
            transition_request=req,
            comment=comment,
            now=now,
        )
    return req


def transition_request_cancel(
    *, transition_request: TransitionRequest, actor, comment: str = ""
) -> TransitionRequest:
    """Withdraw a pending request; only its requester (or a superuser) may."""
    comment = _clean_comment(comment)
    with transaction.atomic():
        model, req = _lock_request(transition_request)
        if req.status != RequestStatus.PENDING:
            raise RequestAlreadyDecided(f"Request #{req.pk} is already {req.status}.")
        _require(
            req.requested_by_id == actor.pk or actor.is_superuser,
            "Only the requester can cancel a transition request.",
        )
        now = timezone.now()
        req.status = RequestStatus.CANCELLED
        req.decided_at = now
        req.save(update_fields=["status", "decided_at"])
        _record(
            registered_model=model,
            version=req.version,
            kind=LedgerKind.CANCELLATION,
            actor=actor,
            transition_request=req,
            comment=comment,
            now=now,
        )
    return req
