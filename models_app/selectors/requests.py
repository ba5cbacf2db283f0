"""Reads of transition requests and their decisions."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from models_app.choices import Decision, RequestStatus
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
