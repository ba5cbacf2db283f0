"""Domain errors. Each has a stable machine-readable ``code``; each edge maps them to its medium in one place.

The category base classes (NotFound, NotAllowed, Conflict, Gone, InvalidInput, TooLarge,
StorageUnavailable) decide the HTTP status; the concrete classes give the code and message.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every domain error. ``field`` names the offending input field when there is one."""

    code = "registry_error"
    default_message = "The registry refused the operation."

    def __init__(self, message: str | None = None, *, field: str | None = None, code: str | None = None):
        self.message = message or self.default_message
        self.field = field
        if code:
            self.code = code
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


# -- categories -----------------------------------------------------------------------------------


class NotFound(RegistryError):
    code = "not_found"
    default_message = "Not found."


class NotAllowed(RegistryError):
    code = "permission_denied"
    default_message = "You are not allowed to do this."


class Conflict(RegistryError):
    code = "conflict"
    default_message = "The request conflicts with the current state."


class Gone(RegistryError):
    """What was asked for existed and was removed for good (HTTP 410)."""

    code = "gone"
    default_message = "This was removed for good."


class InvalidInput(RegistryError):
    code = "invalid"
    default_message = "Invalid input."


class TooLarge(RegistryError):
    code = "too_large"
    default_message = "The upload is larger than the configured limit."


class StorageUnavailable(RegistryError):
    code = "storage_unavailable"
    default_message = "The artifact storage is unreachable; nothing was stored. Try again later."


# -- concrete errors --------------------------------------------------------------------------------


class ClientAborted(InvalidInput):
    """The client reset or closed the connection before its request body was complete (a client abort,
    not a server error: nothing was stored, and nobody is left to read the answer)."""

    code = "client_aborted"
    default_message = "The connection closed before the request body was complete; nothing was stored."


class ModelNotFound(NotFound):
    code = "model_not_found"


class VersionNotFound(NotFound):
    code = "version_not_found"


class RequestNotFound(NotFound):
    code = "request_not_found"


class FileNotFound(NotFound):
    code = "file_not_found"


class SelfApprovalForbidden(NotAllowed):
    code = "self_approval_forbidden"
    default_message = (
        "You requested this transition, so you cannot approve or reject it; another reviewer must."
    )


class PasswordSignInOff(NotAllowed):
    """REGISTRY_PASSWORD_LOGIN=0: only the break-glass superuser signs in with a password."""

    code = "password_sign_in_off"


class AccountDeactivated(NotAllowed):
    """A deactivated account stays out, even when the identity provider vouches for it."""

    code = "account_deactivated"


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, *, current, target, rollback: bool = False):
        self.current, self.target = current, target
        if rollback:
            message = (
                f"Cannot roll back from stage '{current}' to '{target}': only an archived version "
                "that has been in Production before can be rolled back to."
            )
        else:
            message = f"Cannot move a version from stage '{current}' to stage '{target}'."
        super().__init__(message, field="to")


class ApprovalRequired(Conflict):
    code = "approval_required"
    default_message = (
        "Moving a version to Production needs an approved transition request; "
        "create one with POST /api/v1/transition-requests/."
    )


class RollbackRequired(Conflict):
    code = "rollback_required"
    default_message = "An archived version returns to Production only through a rollback with a reason."


class RequestAlreadyDecided(Conflict):
    code = "already_decided"


class DuplicatePendingRequest(Conflict):
    code = "duplicate_request"


class AlreadyVoted(Conflict):
    code = "already_decided_by_you"


class VersionNotReady(Conflict):
    code = "version_not_ready"


class VersionPurged(Gone):
    """The version's files were purged: it can never be downloaded, staged, aliased or deployed again."""

    code = "version_purged"


class PurgeProtected(Conflict):
    """The version is in use (Production, Staging, an alias, a pending request): its files stay."""

    code = "purge_protected"


class VersionHeld(Conflict):
    """A legal hold (on the version or its whole model) keeps the version's files."""

    code = "version_held"


class AlreadyHeld(Conflict):
    code = "already_held"


class NotHeld(Conflict):
    code = "not_held"


class StaleState(Conflict):
    code = "stale_state"


class NeverInProduction(Conflict):
    code = "never_in_production"


class AlreadyExists(Conflict):
    """Something with this name or key exists already."""

    code = "already_exists"


class ModelAlreadyExists(AlreadyExists):
    code = "model_exists"


class ExperimentAlreadyExists(AlreadyExists):
    code = "experiment_exists"


class PolicyGateFailed(Conflict):
    """A version's metrics do not pass its model's promotion gates."""

    code = "policy_gate_failed"


class FreezeWindowActive(Conflict):
    """Production changes are frozen for the model right now (rollbacks excepted)."""

    code = "freeze_window"


class ChecksumMismatch(InvalidInput):
    code = "checksum_mismatch"


class InvalidArtifactPath(InvalidInput):
    code = "invalid_path"


class AppendOnlyViolation(RegistryError):
    """Raised when code tries to change or delete a ledger row."""

    code = "append_only"
    default_message = "Ledger rows are append-only: they can never be changed or deleted."


class UploadNotFound(NotFound):
    code = "upload_not_found"


class DirectUploadUnavailable(Conflict):
    code = "direct_upload_unavailable"
    default_message = (
        "Direct upload needs the S3 artifact storage (REGISTRY_STORAGE=s3); this registry stores artifacts "
        "on its filesystem. Register the version with one multipart POST to /api/v1/models/{name}/versions/."
    )


class UploadIncomplete(Conflict):
    code = "upload_incomplete"


class UploadClosed(Conflict):
    code = "upload_closed"


class AnchorKeyMissing(Conflict):
    code = "anchor_key_missing"
    default_message = (
        "REGISTRY_AUDIT_ANCHOR_KEY is not set: ledger checkpoints are signed with it (HMAC-SHA256), so "
        "none can be written or verified. Set it to a long random secret, the same on every instance."
    )


class AnchorRefused(Conflict):
    """The ledger does not extend the newest checkpoint (or that checkpoint does not verify): writing a new
    checkpoint now would bless a rewound ledger."""

    code = "anchor_refused"
