"""Reads of transition requests and their decisions."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from models_app import policies
from models_app.choices import Decision, RequestStatus, Stage
from models_app.exceptions import (
    RequestNotFound,
)
from models_app.models import (
    Approval,
    ModelVersion,
    TransitionRequest,
)


def transition_request_list() -> QuerySet[TransitionRequest]:
    """Requests with their version, model, requester and decisions, newest first."""
    return (
        TransitionRequest.objects.select_related(
            "version",
            "version__registered_model",
            "version__registered_model__team",
            "version__registered_model__promotion_policy",
            "requested_by",
        )
        .prefetch_related(Prefetch("approvals", queryset=Approval.objects.select_related("reviewer")))
        .annotate(approval_count=Count("approvals", filter=Q(approvals__decision=Decision.APPROVE)))
        .order_by("-created_at", "-id")
    )


def transition_request_list_pending() -> QuerySet[TransitionRequest]:
    return transition_request_list().filter(status=RequestStatus.PENDING)


def transition_request_get(*, pk: int) -> TransitionRequest:
    req = transition_request_list().filter(pk=pk).first()
    if req is None:
        raise RequestNotFound(f"No transition request #{pk}.", field="id")
    return req


def transition_request_list_awaiting(*, user) -> QuerySet[TransitionRequest]:
    """Pending requests this user could decide: not their own, and not yet decided by them."""
    return transition_request_list_pending().exclude(requested_by=user).exclude(approvals__reviewer=user)


def transition_request_list_by(*, user) -> QuerySet[TransitionRequest]:
    """Requests this user made, newest first."""
    return transition_request_list().filter(requested_by=user)


def transition_request_list_for_version(*, version: ModelVersion) -> QuerySet[TransitionRequest]:
    """A version's requests, newest first."""
    return transition_request_list().filter(version=version)


@dataclass(frozen=True)
class DecisionFacts:
    """What deciding a request would meet: the facts ``rules`` and the confirmation step are given."""

    production_number: int | None
    approvals: int
    required: int
    decided_by: list[int]
    missing_groups: dict[str, int]
    reviewer_groups: frozenset[str]
    policy: policies.Policy


def transition_request_decision_facts(*, transition_request: TransitionRequest, reviewer) -> DecisionFacts:
    """The request's model's Production version, its approvals so far and the policy's group minimums
    still unmet, and the reviewer's groups: read now, so a confirmation says what a decision would do."""
    model = transition_request.version.registered_model
    production = (
        ModelVersion.objects.filter(registered_model=model, stage=Stage.PRODUCTION)
        .values_list("version", flat=True)
        .first()
    )
    decisions = Approval.objects.filter(transition_request=transition_request)
    approvals = decisions.filter(decision=Decision.APPROVE).values("reviewer").distinct().count()
    return DecisionFacts(
        production_number=production,
        approvals=approvals,
        required=model.required_approvals,
        decided_by=list(decisions.values_list("reviewer_id", flat=True)),
        missing_groups=policies.missing_group_approvals(
            registered_model=model, transition_request=transition_request
        ),
        reviewer_groups=frozenset(reviewer.groups.values_list("name", flat=True)),
        policy=policies.policy_for(model),
    )
