"""Every read the edges make, with the joins they need, so list pages run a fixed number of queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from models_app import roles
from models_app.choices import STAGE_CHANGE_KINDS, Decision, LedgerKind, RequestStatus, Stage, VersionStatus
from models_app.exceptions import (
    FileNotFound,
    ModelNotFound,
    RequestNotFound,
    UploadNotFound,
    VersionNotFound,
    VersionNotReady,
)
from models_app.models import (
    Approval,
    ArtifactFile,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    StageTransition,
    TransitionRequest,
    UploadSession,
)
from models_app.models.pipeline import Deployment, Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from models_app.names import canonical_name


def model_list() -> QuerySet[RegisteredModel]:
    """Models with their team, Production version number and Staging count annotated."""
    production = ModelVersion.objects.filter(registered_model=OuterRef("pk"), stage=Stage.PRODUCTION)
    return (
        RegisteredModel.objects.select_related("team", "created_by", "promotion_policy")
        .annotate(
            production_version=Subquery(production.values("version")[:1]),
            staging_count=Count("versions", filter=Q(versions__stage=Stage.STAGING), distinct=True),
            latest_version=Max("versions__version"),
        )
        .prefetch_related(
            Prefetch("aliases", queryset=ModelAlias.objects.select_related("version")),
            current_deployments_prefetch(),
        )
        .order_by("name")
    )


def model_get(*, name: str) -> RegisteredModel:
    """A model by name, compared in canonical form; ModelNotFound otherwise."""
    model = model_list().filter(name=canonical_name(name)).first()
    if model is None:
        raise ModelNotFound(f"No model named '{name}'.", field="name")
    return model


def version_list(*, registered_model: RegisteredModel | None = None) -> QuerySet[ModelVersion]:
    """Versions with everything their representation shows, newest first."""
    qs = ModelVersion.objects.select_related(
        "registered_model", "registered_model__team", "created_by", "parent"
    )
    qs = qs.prefetch_related(
        "files",
        Prefetch("aliases", queryset=ModelAlias.objects.order_by("name")),
        current_deployments_prefetch(),
    )
    if registered_model is not None:
        qs = qs.filter(registered_model=registered_model)
    return qs.order_by("registered_model_id", "-version")


def version_get(*, registered_model: RegisteredModel, ref: str | int) -> ModelVersion:
    """Resolve a version reference: a number, ``latest``, a stage name, or ``@alias``.

    ``latest`` is the newest ready version; ``staging`` the newest version in Staging.
    """
    qs = version_list(registered_model=registered_model)
    ref_text = str(ref).strip()
    version = None
    if ref_text.isdigit():
        version = qs.filter(version=int(ref_text)).first()
    elif ref_text == "latest":
        version = qs.filter(status=VersionStatus.READY).first()
    elif ref_text in Stage.values and ref_text != Stage.NONE:
        version = qs.filter(stage=ref_text).first()
    elif ref_text.startswith("@") and len(ref_text) > 1:
        alias = ModelAlias.objects.filter(registered_model=registered_model, name=ref_text[1:]).first()
        version = qs.filter(pk=alias.version_id).first() if alias else None
    else:
        raise VersionNotFound(
            f"'{ref_text}' is not a version reference; use a number, 'latest', 'production', 'staging', "
            "'archived' or '@alias'.",
            field="ref",
        )
    if version is None:
        raise VersionNotFound(f"'{registered_model.name}' has no version '{ref_text}'.", field="ref")
    return version


def version_file_get(*, version: ModelVersion, path: str) -> ArtifactFile:
    """The file record of ``version`` at ``path``; only ready versions can be downloaded."""
    if not version.is_ready:
        raise VersionNotReady(
            f"v{version.version} is {version.status}; only ready versions can be downloaded.", field="ref"
        )
    record = ArtifactFile.objects.filter(version=version, path=path).first()
    if record is None:
        raise FileNotFound(
            f"v{version.version} of '{version.registered_model.name}' has no file {path!r}.", field="path"
        )
    return record


def version_children(*, version: ModelVersion) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(parent=version).select_related("registered_model").order_by("version")


def version_ever_in_production(*, version: ModelVersion) -> bool:
    return StageTransition.objects.filter(version=version, to_stage=Stage.PRODUCTION).exists()


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


def transition_request_awaiting(*, user) -> QuerySet[TransitionRequest]:
    """Pending requests this user could decide: not their own, and not yet decided by them."""
    return transition_request_list_pending().exclude(requested_by=user).exclude(approvals__reviewer=user)


def ledger_list() -> QuerySet[StageTransition]:
    """Ledger rows, newest first, with model, version and request joined."""
    return StageTransition.objects.select_related(
        "registered_model", "version", "transition_request"
    ).order_by("-id")


def ledger_for_version(*, version: ModelVersion) -> QuerySet[StageTransition]:
    return ledger_list().filter(version=version)


def models_production_changed_recently(*, limit: int = 5) -> QuerySet[StageTransition]:
    """The newest ledger rows that put a version into Production."""
    return ledger_list().filter(to_stage=Stage.PRODUCTION)[:limit]


@dataclass
class Snapshot:
    """Which versions held each stage and alias at a moment, and how Production got there.

    Built from ledger rows alone: ``production_entry`` is the row that put the Production version in
    place (an approved promotion or a rollback, whose comment is the reason); ``production_request`` the
    row that asked for it (requester, comment, and the metric-gate evidence in ``details``);
    ``production_approvals`` the approval rows (reviewer, comment, their groups in ``details``);
    ``policy`` the promotion policy in force (as recorded by the last policy change), if any.
    """

    at: datetime
    stages: dict[str, list[int]] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    production_version: int | None = None
    production_entry: StageTransition | None = None
    production_request: StageTransition | None = None
    production_approvals: list[StageTransition] = field(default_factory=list)
    policy: dict | None = None

    @property
    def approved_by(self) -> list[str]:
        return [row.actor_username for row in self.production_approvals]


def model_history_at(*, registered_model: RegisteredModel, at: datetime) -> Snapshot:
    """Replay the ledger up to ``at``: the answer comes from the ledger alone."""
    if timezone.is_aware(at):
        # PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows; UTC compares the same everywhere.
        at = at.astimezone(UTC)
    rows = (
        StageTransition.objects.filter(registered_model=registered_model, created_at__lte=at)
        .select_related("registered_model", "version", "transition_request")
        .order_by("id")
    )
    stage_of: dict[int, str] = {}
    entered: dict[int, StageTransition] = {}
    aliases: dict[str, int] = {}
    approvals_by_request: dict[int, list[StageTransition]] = {}
    request_rows: dict[int, StageTransition] = {}
    policy: dict | None = None
    for row in rows:
        number = row.version.version if row.version else None
        if row.kind == LedgerKind.REGISTERED and number is not None:
            stage_of[number] = Stage.NONE
        elif row.kind in STAGE_CHANGE_KINDS and number is not None:
            stage_of[number] = row.to_stage
            entered[number] = row
        elif row.kind == LedgerKind.ALIAS_SET and number is not None:
            aliases[row.alias] = number
        elif row.kind == LedgerKind.ALIAS_REMOVED:
            aliases.pop(row.alias, None)
        elif row.kind == LedgerKind.REQUESTED and row.transition_request_id:
            request_rows[row.transition_request_id] = row
        elif row.kind == LedgerKind.APPROVAL and row.transition_request_id:
            approvals_by_request.setdefault(row.transition_request_id, []).append(row)
        elif row.kind == LedgerKind.POLICY_CHANGED:
            policy = dict(row.details.get("to") or {})
        elif row.kind == LedgerKind.MODEL_CHANGED and policy is not None:
            change = row.details.get("required_approvals")
            if isinstance(change, dict) and "to" in change:
                policy["required_approvals"] = change["to"]
    snap = Snapshot(at=at, aliases=dict(sorted(aliases.items())), policy=policy)
    for stage in (Stage.PRODUCTION, Stage.STAGING, Stage.ARCHIVED, Stage.NONE):
        snap.stages[stage] = sorted(n for n, s in stage_of.items() if s == stage)
    if snap.stages[Stage.PRODUCTION]:
        snap.production_version = snap.stages[Stage.PRODUCTION][0]
        entry = entered.get(snap.production_version)
        snap.production_entry = entry
        if entry and entry.kind == LedgerKind.APPROVED and entry.transition_request_id:
            snap.production_request = request_rows.get(entry.transition_request_id)
            snap.production_approvals = approvals_by_request.get(entry.transition_request_id, [])
    return snap


def model_list_with_staging() -> QuerySet[RegisteredModel]:
    """``model_list`` plus each model's Staging versions as ``staging_versions`` (for the models page)."""
    staging = ModelVersion.objects.filter(stage=Stage.STAGING).order_by("-version")
    return model_list().prefetch_related(Prefetch("versions", queryset=staging, to_attr="staging_versions"))


def transition_request_list_by(*, user) -> QuerySet[TransitionRequest]:
    """Requests this user made, newest first."""
    return transition_request_list().filter(requested_by=user)


def transition_request_list_for_version(*, version: ModelVersion) -> QuerySet[TransitionRequest]:
    """A version's requests, newest first."""
    return transition_request_list().filter(version=version)


# -- events, deployments and webhooks -----------------------------------------------------------------


def event_list_after(
    *, after: int = 0, limit: int = 100, types: list[str] | None = None, registered_model=None
) -> list[Event]:
    """Events with a sequence above ``after``, oldest first: the feed (see models_app/events.py).

    Sequences become visible in order, so a cursor at the last sequence read never skips one.
    """
    qs = Event.objects.filter(sequence__gt=after).select_related("registered_model", "version")
    if types:
        qs = qs.filter(type__in=types)
    if registered_model is not None:
        qs = qs.filter(registered_model=registered_model)
    return list(qs.order_by("sequence")[:limit])


def event_last_sequence() -> int:
    """The newest event's sequence (0 when there is none): a cursor that starts at 'now'."""
    return Event.objects.aggregate(last=Max("sequence"))["last"] or 0


def _latest_deployment_ids() -> QuerySet:
    return (
        Deployment.objects.values("registered_model", "environment").annotate(last=Max("id")).values("last")
    )


def current_deployments_prefetch() -> Prefetch:
    """Prefetch ``current_deployments`` on models or versions: the latest report per environment.

    On a model: where each of its versions runs now. On a version: the environments whose latest
    report is about this version. One query for any number of rows.
    """
    return Prefetch(
        "deployments",
        queryset=Deployment.objects.filter(id__in=Subquery(_latest_deployment_ids()))
        .select_related("version", "reported_by")
        .order_by("environment"),
        to_attr="current_deployments",
    )


def deployment_list(*, version: ModelVersion) -> QuerySet[Deployment]:
    """Every deployment report of a version, newest first."""
    return Deployment.objects.filter(version=version).select_related("version", "reported_by").order_by("-id")


def deployment_current(*, registered_model: RegisteredModel) -> list[Deployment]:
    """The latest report per environment of a model's versions: where each version runs now."""
    return list(
        Deployment.objects.filter(
            id__in=Subquery(_latest_deployment_ids()), registered_model=registered_model
        )
        .select_related("version", "reported_by")
        .order_by("environment")
    )


def webhook_subscription_list(*, user) -> QuerySet[WebhookSubscription]:
    """The subscriptions ``user`` may see and manage (their teams'; all for Governance), oldest first."""
    qs = WebhookSubscription.objects.select_related("registered_model", "team", "created_by").order_by("id")
    if user.is_superuser or roles.can_govern_model(user):
        return qs
    if not user.has_perm(roles.PUBLISH_PERM):
        return qs.none()
    teams = user.groups.values("pk")
    return qs.filter(Q(team__in=teams) | Q(registered_model__team__in=teams))


def webhook_delivery_list(*, subscription: WebhookSubscription) -> QuerySet[WebhookDelivery]:
    """A subscription's deliveries with their events and attempt log, newest first."""
    return (
        WebhookDelivery.objects.filter(subscription=subscription)
        .select_related("event", "event__registered_model", "event__version")
        .prefetch_related(Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number", "id")))
        .order_by("-id")
    )


def upload_session_get(*, registered_model: RegisteredModel, upload_id) -> UploadSession:
    """A direct upload of ``registered_model`` with its version and files."""
    try:
        upload_id = uuid.UUID(str(upload_id))
    except ValueError:
        raise UploadNotFound(f"'{registered_model.name}' has no upload {upload_id}.", field="id") from None
    session = (
        UploadSession.objects.select_related("version__registered_model", "created_by")
        .prefetch_related("files")
        .filter(pk=upload_id, version__registered_model=registered_model)
        .first()
    )
    if session is None:
        raise UploadNotFound(f"'{registered_model.name}' has no upload {upload_id}.", field="id")
    return session
