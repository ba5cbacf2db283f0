"""Enumerations of the domain. Compare against these, never against raw strings."""

from django.db import models


class Stage(models.TextChoices):
    """Where a version stands in its lifecycle."""

    NONE = "none", "None"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


def stage_label(stage) -> str:
    """A stage for people: "No stage" for ``none`` (its choice label "None" reads as a missing value)."""
    try:
        st = Stage(stage)
    except ValueError:
        return str(stage or "")
    return "No stage" if st == Stage.NONE else st.label


class VersionStatus(models.TextChoices):
    """Whether a version's artifacts are completely stored and verified, or were purged.

    ``purged``: the stored bytes were removed (retention or Governance); the row, its metadata and its
    files' paths, sizes and SHA-256 stay. A purged version is Archived (or never had a stage) for good.
    """

    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    PURGED = "purged", "Purged"


class RequestStatus(models.TextChoices):
    """The state of a transition request."""

    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class RequestKind(models.TextChoices):
    """What a transition request asks for (derived from its target, never stored)."""

    PROMOTION = "promotion", "Promotion to Production"
    RETIREMENT = "retirement", "Retirement from Production"
    ALIAS = "alias", "Protected alias move"


class Decision(models.TextChoices):
    """One reviewer's decision on a transition request."""

    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class LedgerKind(models.TextChoices):
    """What a ledger row records.

    The first four are stage changes (``from_stage`` and ``to_stage`` are set); the others record
    registrations, decisions, alias moves, policy changes, purges and legal holds on the same
    append-only chain.
    """

    DIRECT = "direct", "Direct stage change"
    APPROVED = "approved", "Approved stage change"
    AUTOMATIC = "automatic", "Automatic archive"
    ROLLBACK = "rollback", "Rollback"
    REGISTERED = "registered", "Version registered"
    REQUESTED = "requested", "Transition requested"
    APPROVAL = "approval", "Approval given"
    REJECTION = "rejection", "Request rejected"
    CANCELLATION = "cancellation", "Request cancelled"
    ALIAS_SET = "alias_set", "Alias set"
    ALIAS_REMOVED = "alias_removed", "Alias removed"
    MODEL_CHANGED = "model_changed", "Model settings changed"
    DEPLOYMENT = "deployment", "Deployment reported"
    POLICY_CHANGED = "policy_changed", "Promotion policy changed"
    MODEL_CREATED = "model_created", "Model created"
    MODEL_EDITED = "model_edited", "Model card edited"
    VERSION_EDITED = "version_edited", "Version card edited"
    PURGED = "purged", "Files purged"
    HOLD_PLACED = "hold_placed", "Legal hold placed"
    HOLD_RELEASED = "hold_released", "Legal hold released"


STAGE_CHANGE_KINDS = frozenset(
    {LedgerKind.DIRECT, LedgerKind.APPROVED, LedgerKind.AUTOMATIC, LedgerKind.ROLLBACK}
)


class Role(models.TextChoices):
    """The groups that carry the registry's roles (created by a data migration)."""

    PUBLISHERS = "Publishers", "Publishers"
    REVIEWERS = "Reviewers", "Reviewers"
    GOVERNANCE = "Governance", "Governance"


class EventType(models.TextChoices):
    """The type of an outbox event (the ``type`` of its webhook body); listed in models_app/pipeline/events.py."""

    MODEL_CREATED = "model.created", "Model created"
    MODEL_UPDATED = "model.updated", "Model settings changed"
    VERSION_REGISTERED = "version.registered", "Version registered"
    VERSION_FAILED = "version.failed", "Version failed"
    VERSION_UPDATED = "version.updated", "Version card edited"
    TRANSITION_REQUESTED = "transition.requested", "Transition requested"
    TRANSITION_APPROVED = "transition.approved", "Transition approved by a reviewer"
    TRANSITION_REJECTED = "transition.rejected", "Transition rejected"
    TRANSITION_CANCELLED = "transition.cancelled", "Transition cancelled"
    STAGE_CHANGED = "stage.changed", "Stage changed"
    ROLLBACK = "stage.rolled_back", "Rolled back"
    ALIAS_MOVED = "alias.moved", "Alias moved"
    DEPLOYMENT_REPORTED = "deployment.reported", "Deployment reported"
    VERSION_PURGED = "version.purged", "Version files purged"
    HOLD_PLACED = "hold.placed", "Legal hold placed"
    HOLD_RELEASED = "hold.released", "Legal hold released"


class DeploymentStatus(models.TextChoices):
    """What a CD pipeline reports about one deployment of a version to an environment."""

    STARTED = "started", "Started"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class DeliveryState(models.TextChoices):
    """Where a webhook delivery stands: waiting (or leased by a worker), delivered, or given up."""

    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class EmailState(models.TextChoices):
    """Where a notification e-mail stands: waiting (or leased by a worker), sent, given up, or skipped."""

    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"  # the recipient turned notifications off before it was sent


class UploadStatus(models.TextChoices):
    """Where a direct-to-bucket upload session stands."""

    OPEN = "open", "Open"
    COMPLETING = "completing", "Completing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    ABORTED = "aborted", "Aborted"


class AdminAccessChange(models.TextChoices):
    """How a sign-in changed a user's access to the governance admin (``is_staff``), which follows the
    Governance role for users who sign in through the identity provider."""

    GRANTED = "granted", "Granted"
    REVOKED = "revoked", "Revoked"


class RunStatus(models.TextChoices):
    """The state of a tracked run, spelled as the MLflow protocol spells it."""

    RUNNING = "RUNNING", "Running"
    SCHEDULED = "SCHEDULED", "Scheduled"
    FINISHED = "FINISHED", "Finished"
    FAILED = "FAILED", "Failed"
    KILLED = "KILLED", "Killed"


class LoggedModelStatus(models.TextChoices):
    """Whether a logged model's files are completely uploaded, spelled as the MLflow protocol spells it."""

    PENDING = "LOGGED_MODEL_PENDING", "Pending"
    READY = "LOGGED_MODEL_READY", "Ready"
    UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED", "Upload failed"
