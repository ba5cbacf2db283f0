"""The registry's tables, one module per area. Rules live in ``models_app.rules`` and the services; the
constraints here are the database's backstop."""

from models_app.models.holds import LegalHold
from models_app.models.identities import OIDCIdentity, RoleSyncRecord
from models_app.models.jobs import PeriodicJob
from models_app.models.ledger import LedgerEntry, LedgerHead
from models_app.models.notifications import EmailNotification, NotificationSettings
from models_app.models.pipeline import Deployment, Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from models_app.models.policies import PromotionPolicy
from models_app.models.registry import (
    ALIAS_PATTERN,
    NAME_PATTERN,
    ArtifactFile,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    alias_validator,
    name_validator,
)
from models_app.models.requests import Approval, TransitionRequest
from models_app.models.tokens import ApiToken
from models_app.models.tracking import DraftArtifact, Experiment, LoggedModel, Run, RunMetric, VersionOrigin
from models_app.models.uploads import UploadFile, UploadSession

__all__ = [
    "ALIAS_PATTERN",
    "NAME_PATTERN",
    "ApiToken",
    "Approval",
    "ArtifactFile",
    "Deployment",
    "DraftArtifact",
    "EmailNotification",
    "Event",
    "Experiment",
    "LedgerEntry",
    "LedgerHead",
    "LegalHold",
    "LoggedModel",
    "ModelAlias",
    "ModelVersion",
    "NotificationSettings",
    "OIDCIdentity",
    "PeriodicJob",
    "PromotionPolicy",
    "RegisteredModel",
    "RoleSyncRecord",
    "Run",
    "RunMetric",
    "TransitionRequest",
    "UploadFile",
    "UploadSession",
    "VersionOrigin",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "alias_validator",
    "name_validator",
]
