"""Four-eyes transition requests: create, approve, reject, cancel."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from models_app import policies, rules
from models_app.choices import Decision, LedgerKind, RequestStatus, Stage
from models_app.models import Approval, ModelVersion, RegisteredModel, TransitionRequest
from models_app.services._shared import (
    clean_comment,
    clean_stage,
    lock_model,
    promote,
    record,
    refresh_version,
)


def transition_request_create(
    *, version: ModelVersion, to: Stage | str, actor, comment: str = ""
) -> TransitionRequest:
    """Ask for a version to be promoted to a stage that needs approval (Production).

    The request carries the metric-gate evidence it was made on; a version that fails the model's
    gates is refused with PolicyGateFailed.
    """
    target = clean_stage(to)
    comment = clean_comment(comment)
    rules.refuse(rules.needs_request(target))
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        pending = TransitionRequest.objects.filter(
            version=version, target_stage=target, status=RequestStatus.PENDING
        ).exists()
        rules.refuse(rules.may_request(actor, version=version, target=target, has_pending=pending))
        policy = policies.policy_for(model)
        rules.refuse(rules.gates_pass(policy, registered_model=model, version=version))
        now = timezone.now()
        req = TransitionRequest.objects.create(
            version=version, target_stage=target, requested_by=actor, comment=comment, created_at=now
        )
        record(
            registered_model=model,
            version=version,
            kind=LedgerKind.REQUESTED,
            actor=actor,
            transition_request=req,
            comment=comment,
            details={"target_stage": str(target), **policies.gate_evidence(policy, version.metrics)},
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
    model = lock_model(model_id)
    req = (
        TransitionRequest.objects.select_for_update().select_related("version").get(pk=transition_request.pk)
    )
    req.version.registered_model = model
    return model, req


def _check_decider(req: TransitionRequest, reviewer) -> None:
    decided_by = Approval.objects.filter(transition_request=req).values_list("reviewer_id", flat=True)
    rules.refuse(rules.may_decide_request(reviewer, transition_request=req, decided_by=decided_by))


def transition_request_approve(
    *, transition_request: TransitionRequest, actor, comment: str = ""
) -> TransitionRequest:
    """Record one reviewer's approval; when enough distinct reviewers approved, apply the move.

    Applying a promotion to Production archives the previous Production version in the same transaction.
    """
    comment = clean_comment(comment)
    with transaction.atomic():
        model, req = _lock_request(transition_request)
        _check_decider(req, actor)
        policy = policies.policy_for(model)
        # The policy may have been tightened since the request: re-check before counting the approval.
        rules.refuse(rules.gates_pass(policy, registered_model=model, version=req.version))
        now = timezone.now()
        Approval.objects.create(
            transition_request=req,
            reviewer=actor,
            requester_id=req.requested_by_id,
            decision=Decision.APPROVE,
            comment=comment,
            created_at=now,
        )
        version = refresh_version(req.version, model)
        record(
            registered_model=model,
            version=version,
            kind=LedgerKind.APPROVAL,
            actor=actor,
            transition_request=req,
            comment=comment,
            details=policies.reviewer_evidence(actor),
            now=now,
        )
        approvals = req.approvals.filter(decision=Decision.APPROVE).aggregate(
            n=Count("reviewer", distinct=True)
        )["n"]
        if approvals >= model.required_approvals and not policies.missing_group_approvals(
            registered_model=model, transition_request=req
        ):
            rules.refuse(rules.request_applicable(transition_request=req, version=version))
            rules.refuse(rules.not_frozen(policy, registered_model=model, now=now))
            req.status = RequestStatus.APPROVED
            req.decided_at = now
            req.save(update_fields=["status", "decided_at"])
            promote(
                version,
                kind=LedgerKind.APPROVED,
                actor=actor,
                registered_model=model,
                transition_request=req,
                comment=comment,
                now=now,
            )
    return req


def transition_request_reject(
    *, transition_request: TransitionRequest, actor, comment: str = ""
) -> TransitionRequest:
    """Reject a request; one rejection closes it."""
    comment = clean_comment(comment)
    with transaction.atomic():
        model, req = _lock_request(transition_request)
        _check_decider(req, actor)
        now = timezone.now()
        Approval.objects.create(
            transition_request=req,
            reviewer=actor,
            requester_id=req.requested_by_id,
            decision=Decision.REJECT,
            comment=comment,
            created_at=now,
        )
        req.status = RequestStatus.REJECTED
        req.decided_at = now
        req.save(update_fields=["status", "decided_at"])
        record(
            registered_model=model,
            version=req.version,
            kind=LedgerKind.REJECTION,
            actor=actor,
            transition_request=req,
            comment=comment,
            now=now,
        )
    return req


def transition_request_cancel(
    *, transition_request: TransitionRequest, actor, comment: str = ""
) -> TransitionRequest:
    """Withdraw a pending request; only its requester (or a superuser) may."""
    comment = clean_comment(comment)
    with transaction.atomic():
        model, req = _lock_request(transition_request)
        rules.refuse(rules.may_cancel(actor, transition_request=req))
        now = timezone.now()
        req.status = RequestStatus.CANCELLED
        req.decided_at = now
        req.save(update_fields=["status", "decided_at"])
        record(
            registered_model=model,
            version=req.version,
            kind=LedgerKind.CANCELLATION,
            actor=actor,
            transition_request=req,
            comment=comment,
            now=now,
        )
    return req
