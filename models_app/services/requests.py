"""Four-eyes transition requests: create, approve, reject, cancel.

Three kinds (``RequestKind``): a promotion into Production, the retirement of the Production version
(``to: archived``), and a protected alias pointed at a version (``to: @alias``). All three are decided
alike: reviewers other than the requester, the model's quorum and group approvals, and no change while a
freeze window is open; metric gates apply to promotions and alias moves.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from models_app import policies, rules
from models_app.choices import Decision, LedgerKind, RequestKind, RequestStatus, Stage
from models_app.models import Approval, ModelAlias, ModelVersion, RegisteredModel, TransitionRequest
from models_app.services._shared import (
    clean_comment,
    clean_stage,
    lock_model,
    promote,
    record,
    refresh_version,
    request_close,
    request_decided,
    set_stage,
)
from models_app.services.aliases import alias_point, clean_alias


def transition_request_create(
    *, version: ModelVersion, to: Stage | str, actor, comment: str = ""
) -> TransitionRequest:
    """Ask for a change that needs approval: ``to`` is ``production`` (a promotion), ``archived`` for the
    Production version (its retirement; a reason in ``comment`` is required) or ``@alias`` for a
    protected alias to point at the version.

    A promotion and an alias request carry the metric-gate evidence they were made on; a version that
    fails the model's gates is refused with PolicyGateFailed (a retirement has no gates).
    """
    if isinstance(to, str) and to.startswith("@"):
        return _alias_request_create(
            version=version,
            alias=clean_alias(to[1:], field="to"),
            actor=actor,
            comment=clean_comment(comment),
        )
    target = clean_stage(to)
    comment = clean_comment(comment)
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        retiring = Stage(version.stage) == Stage.PRODUCTION
        pending = TransitionRequest.objects.filter(
            version=version, target_stage=target, status=RequestStatus.PENDING
        ).exists()
        rules.refuse(rules.may_request(actor, version=version, target=target, has_pending=pending))
        if retiring:
            comment = clean_comment(comment, required=True)
        policy = policies.policy_for(model)
        evidence = {}
        if not retiring:
            rules.refuse(rules.gates_pass(policy, registered_model=model, version=version))
            evidence = policies.gate_evidence(policy, version.metrics)
        now = timezone.now()
        req = TransitionRequest.objects.create(
            version=version, target_stage=target, requested_by=actor, comment=comment, created_at=now
        )
        version.open_stage_requests = True  # what its lock read no longer holds
        record(
            registered_model=model,
            version=version,
            kind=LedgerKind.REQUESTED,
            actor=actor,
            transition_request=req,
            comment=comment,
            details={"target_stage": str(target), **evidence},
            now=now,
        )
    return req


def _alias_request_create(*, version: ModelVersion, alias: str, actor, comment: str) -> TransitionRequest:
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        policy = policies.policy_for(model)
        pending = TransitionRequest.objects.filter(
            version=version, target_alias=alias, status=RequestStatus.PENDING
        ).exists()
        current = (
            ModelAlias.objects.filter(registered_model=model, name=alias).select_related("version").first()
        )
        rules.refuse(
            rules.may_request_alias(
                actor,
                version=version,
                alias=alias,
                policy=policy,
                has_pending=pending,
                points_at=current.version.version if current else None,
            )
        )
        rules.refuse(rules.gates_pass(policy, registered_model=model, version=version))
        now = timezone.now()
        req = TransitionRequest.objects.create(
            version=version,
            target_stage="",
            target_alias=alias,
            requested_by=actor,
            comment=comment,
            created_at=now,
        )
        record(
            registered_model=model,
            version=version,
            kind=LedgerKind.REQUESTED,
            actor=actor,
            alias=alias,
            transition_request=req,
            comment=comment,
            details={
                "target_alias": alias,
                "from_version": current.version.version if current else None,
                **policies.gate_evidence(policy, version.metrics),
            },
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


def _decision_create(req: TransitionRequest, reviewer, decision: Decision, *, comment: str, now) -> Approval:
    """One reviewer's approval or rejection (the database allows one per reviewer, never the requester)."""
    return Approval.objects.create(
        transition_request=req,
        reviewer=reviewer,
        requester_id=req.requested_by_id,
        decision=decision,
        comment=comment,
        created_at=now,
    )


def transition_request_approve(
    *, transition_request: TransitionRequest, actor, comment: str = ""
) -> TransitionRequest:
    """Record one reviewer's approval; when enough distinct reviewers approved, apply the change.

    Applying a promotion to Production archives the previous Production version in the same transaction;
    a retirement archives the Production version (the model then has none); an alias request points the
    protected alias at the version.
    """
    comment = clean_comment(comment)
    with transaction.atomic():
        model, req = _lock_request(transition_request)
        _check_decider(req, actor)
        policy = policies.policy_for(model)
        if req.kind != RequestKind.RETIREMENT:
            # The policy may have been tightened since the request: re-check before counting the approval.
            rules.refuse(rules.gates_pass(policy, registered_model=model, version=req.version))
        now = timezone.now()
        _decision_create(req, actor, Decision.APPROVE, comment=comment, now=now)
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
            request_decided(req, RequestStatus.APPROVED, now=now)
            _apply(req, version, model=model, actor=actor, comment=comment, now=now)
    return req


def _apply(req: TransitionRequest, version: ModelVersion, *, model, actor, comment: str, now) -> None:
    """Make the change an approved request asked for (the caller holds the model's lock)."""
    if req.kind == RequestKind.ALIAS:
        alias_point(
            model,
            req.target_alias,
            version,
            actor=actor,
            now=now,
            transition_request=req,
            comment=comment or req.comment,
        )
    elif req.kind == RequestKind.RETIREMENT:
        set_stage(
            version,
            Stage.ARCHIVED,
            kind=LedgerKind.APPROVED,
            actor=actor,
            registered_model=model,
            transition_request=req,
            comment=comment or req.comment,
            now=now,
        )
    else:
        promote(
            version,
            kind=LedgerKind.APPROVED,
            actor=actor,
            registered_model=model,
            transition_request=req,
            comment=comment,
            now=now,
        )


def transition_request_reject(
    *, transition_request: TransitionRequest, actor, comment: str = ""
) -> TransitionRequest:
    """Reject a request; one rejection closes it."""
    comment = clean_comment(comment)
    with transaction.atomic():
        model, req = _lock_request(transition_request)
        _check_decider(req, actor)
        now = timezone.now()
        _decision_create(req, actor, Decision.REJECT, comment=comment, now=now)
        request_close(
            req,
            RequestStatus.REJECTED,
            kind=LedgerKind.REJECTION,
            registered_model=model,
            version=req.version,
            actor=actor,
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
        request_close(
            req,
            RequestStatus.CANCELLED,
            kind=LedgerKind.CANCELLATION,
            registered_model=model,
            version=req.version,
            actor=actor,
            comment=comment,
            now=timezone.now(),
        )
    return req
