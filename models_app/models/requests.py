"""Four-eyes transition requests and the reviewers' decisions on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from models_app.choices import Decision, RequestKind, RequestStatus, Stage

# The pipeline-integration tables (events outbox, webhooks, deployments) live in their own module.
from models_app.models.registry import ModelVersion


class TransitionRequest(models.Model):
    """A request for a change that needs approval: a version into Production (promotion), the Production
    version out of it (retirement, ``target_stage`` archived), or a protected alias pointed at the version
    (``target_alias`` set, ``target_stage`` empty)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="transition_requests")
    target_stage = models.CharField(max_length=16, choices=Stage, blank=True)
    target_alias = models.CharField(max_length=63, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=RequestStatus, default=RequestStatus.PENDING, editable=False
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("decide_transitionrequest", "Can approve or reject transition requests")]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "target_stage", "target_alias"],
                condition=Q(status=RequestStatus.PENDING),
                name="models_app_transitionrequest_one_pending",
            ),
            models.CheckConstraint(
                condition=(Q(target_alias="") & ~Q(target_stage=""))
                | (~Q(target_alias="") & Q(target_stage="")),
                name="models_app_transitionrequest_one_target",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RequestStatus.values), name="models_app_transitionrequest_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="models_app_request_status"),
            models.Index(fields=["requested_by"], name="models_app_request_requester"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.version} -> {self.target} ({self.status})"

    @property
    def target(self) -> str:
        """What the request asks for as the API spells it: a stage (``archived``) or ``@alias``."""
        return f"@{self.target_alias}" if self.target_alias else str(self.target_stage)

    @property
    def kind(self) -> RequestKind:
        if self.target_alias:
            return RequestKind.ALIAS
        if self.target_stage == Stage.PRODUCTION:
            return RequestKind.PROMOTION
        return RequestKind.RETIREMENT


class Approval(models.Model):
    """One reviewer's decision on a transition request (approve or reject)."""

    transition_request = models.ForeignKey(
        TransitionRequest, on_delete=models.PROTECT, related_name="approvals"
    )
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Copied from the request so the database itself can refuse a self-approval.
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=16, choices=Decision)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transition_request", "reviewer"], name="models_app_approval_one_per_reviewer"
            ),
            models.CheckConstraint(
                condition=~Q(reviewer=F("requester")), name="models_app_approval_no_self_approval"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.decision} #{self.transition_request_id}"
