"""Every write the registry makes. The API, the reviewer UI, the admin and the commands call these.

Each service owns its transaction, takes the model's row lock before touching its versions (which
serializes numbering and promotion per model), checks the rule, makes the change and appends the
ledger row in the same transaction. File I/O happens outside transactions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from models_app import events, ledger, metrics, objectstore, policies, roles
from models_app.artifacts import (
    IncomingFile,
    StoredFile,
    artifact_storage,
    delete_quietly,
    new_storage_key,
    store_stream,
    validate_artifact_path,
    validate_sha256,
)
from models_app.choices import (
    Decision,
    DeploymentStatus,
    EventType,
    LedgerKind,
    RequestStatus,
    Stage,
    UploadStatus,
    VersionStatus,
)
from models_app.context import current_request_id
from models_app.exceptions import (
    AlreadyVoted,
    ApprovalRequired,
    ChecksumMismatch,
    Conflict,
    DirectUploadUnavailable,
    DuplicatePendingRequest,
    InvalidInput,
    ModelAlreadyExists,
    NeverInProduction,
    NotAllowed,
    RegistryError,
    RequestAlreadyDecided,
    RollbackRequired,
    SelfApprovalForbidden,
    StaleState,
    StorageUnavailable,
    TooLarge,
    UploadClosed,
    UploadIncomplete,
    VersionNotFound,
    VersionNotReady,
)
from models_app.lifecycle import REQUIRES_APPROVAL, REVIEWER_TARGETS, ROLLBACK_MOVES, check_transition
from models_app.metadata import clean_tags, clean_url, clean_version_metadata
from models_app.models import (
    Approval,
    ArtifactFile,
    Deployment,
    ModelAlias,
    ModelVersion,
    PromotionPolicy,
    RegisteredModel,
    StageTransition,
    TransitionRequest,
    UploadFile,
    UploadSession,
    alias_validator,
    name_validator,
)
from models_app.names import canonical_name

log = logging.getLogger("models_app.lifecycle")


class _Unset:
    """Marker for 'argument not given' where None is a meaningful value."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# -- internals ----------------------------------------------------------------------------------------


def _lock_model(pk: int) -> RegisteredModel:
    return RegisteredModel.objects.select_for_update().select_related("team").get(pk=pk)


def _record(
    *,
    registered_model: RegisteredModel,
    kind: LedgerKind,
    actor,
    version: ModelVersion | None = None,
    from_stage: str = "",
    to_stage: str = "",
    alias: str = "",
    transition_request: TransitionRequest | None = None,
    comment: str = "",
    details: dict | None = None,
    now=None,
) -> StageTransition:
    row = StageTransition(
        registered_model=registered_model,
        version=version,
        kind=kind,
        from_stage=from_stage,
        to_stage=to_stage,
        alias=alias,
        actor=actor,
        actor_username=actor.get_username(),
        transition_request=transition_request,
        comment=comment,
        details=details or {},
        request_id=current_request_id(),
        created_at=now or timezone.now(),
    )
    ledger.append(row)
    events.event_from_ledger(row)
    fields = {
        "event": "ledger",
        "kind": str(kind),
        "model": registered_model.name,
        "version": version.version if version else None,
        "from_stage": str(from_stage),
        "to_stage": str(to_stage),
        "alias": alias,
        "actor": row.actor_username,
        "ledger_id": row.pk,
    }
    log.info(
        "ledger %s model=%s version=%s %s->%s alias=%s actor=%s",
        kind,
        registered_model.name,
        version.version if version else None,
        from_stage,
        to_stage,
        alias,
        row.actor_username,
        extra=fields,
    )
    transaction.on_commit(partial(metrics.record_ledger_row, kind))
    return row


def _set_stage(
    version: ModelVersion,
    target: Stage,
    *,
    kind: LedgerKind,
    actor,
    registered_model: RegisteredModel,
    transition_request: TransitionRequest | None = None,
    comment: str = "",
    now=None,
) -> None:
    previous = Stage(version.stage)
    _record(
        registered_model=registered_model,
        version=version,
        kind=kind,
        from_stage=previous,
        to_stage=target,
        actor=actor,
        transition_request=transition_request,
        comment=comment,
        now=now,
    )
    version.stage = target
    version.save(update_fields=["stage"])
    if previous == Stage.STAGING and target != Stage.PRODUCTION:
        _cancel_stranded_requests(version, actor=actor, registered_model=registered_model, now=now)


def _cancel_stranded_requests(
    version: ModelVersion, *, actor, registered_model: RegisteredModel, now
) -> None:
    """A version that leaves Staging any other way can no longer be promoted: close its open requests."""
    for req in TransitionRequest.objects.select_for_update().filter(
        version=version, status=RequestStatus.PENDING
    ):
        req.status = RequestStatus.CANCELLED
        req.decided_at = now or timezone.now()
        req.save(update_fields=["status", "decided_at"])
        _record(
            registered_model=registered_model,
            version=version,
            kind=LedgerKind.CANCELLATION,
            actor=actor,
            transition_request=req,
            comment=f"Cancelled automatically: v{version.version} left Staging.",
            now=now,
        )


def _promote(
    version: ModelVersion,
    *,
    kind: LedgerKind,
    actor,
    registered_model: RegisteredModel,
    transition_request: TransitionRequest | None = None,
    comment: str = "",
    now,
) -> None:
    # Demote first: the one-Production partial unique index cannot be deferred to commit.
    for old in (
        ModelVersion.objects.filter(registered_model_id=registered_model.pk)
        .production()
        .exclude(pk=version.pk)
    ):
        _set_stage(
            old,
            Stage.ARCHIVED,
            kind=LedgerKind.AUTOMATIC,
            actor=actor,
            registered_model=registered_model,
            transition_request=transition_request,
            comment=f"Superseded by v{version.version}.",
            now=now,
        )
    _set_stage(
        version,
        Stage.PRODUCTION,
        kind=kind,
        actor=actor,
        registered_model=registered_model,
        transition_request=transition_request,
        comment=comment,
        now=now,
    )


def _refresh_version(version: ModelVersion) -> ModelVersion:
    """Re-read a version under its model's lock (the caller holds it)."""
    return ModelVersion.objects.select_for_update().get(pk=version.pk)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise NotAllowed(message)


def _clean_comment(value: str | None, *, field: str = "comment", required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput("A reason is required.", field=field)
    if len(text) > 10_000:
        raise InvalidInput("Must be at most 10000 characters.", field=field)
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        raise InvalidInput("Must not contain control characters.", field=field)
    return text


# -- models -----------------------------------------------------------------------------------------


def _clean_model_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput("Must be a string.", field="name")
    try:
        name_validator(name)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], field="name") from None
    return name


def _clean_required_approvals(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        raise InvalidInput("Must be a whole number from 1 to 10.", field="required_approvals")
    return value


def registered_model_create(
    *,
    name: str,
    team: Group,
    created_by,
    description: str = "",
    tags: dict | None = None,
    required_approvals: int = 1,
) -> RegisteredModel:
    """Create a model owned by ``team``; the creator must publish for that team."""
    name = _clean_model_name(name)
    required_approvals = _clean_required_approvals(required_approvals)
    tags = clean_tags(tags)
    description = _clean_comment(description, field="description")
    _require(
        roles.can_create_model(created_by, team),
        f"Only Publishers who are members of team '{team.name}' can create its models.",
    )
    canonical = canonical_name(name)
    if RegisteredModel.objects.filter(name=canonical).exists():
        raise ModelAlreadyExists(f"A model named '{name}' already exists.", field="name")
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                name=canonical,
                description=description,
                tags=tags,
                team=team,
                required_approvals=required_approvals,
                created_by=created_by,
            )
            events.event_emit(
                type=EventType.MODEL_CREATED,
                actor=created_by,
                registered_model=model,
                payload={"team": team.name},
            )
    except IntegrityError:
        raise ModelAlreadyExists(f"A model named '{name}' already exists.", field="name") from None
    return model


def registered_model_update(
    *,
    registered_model: RegisteredModel,
    actor,
    description: str | _Unset = UNSET,
    tags: dict | _Unset = UNSET,
    required_approvals: int | _Unset = UNSET,
    team: Group | _Unset = UNSET,
) -> RegisteredModel:
    """Change a model's card (team publishers) or its governance settings (Governance).

    A change to the team or the required approvals is a policy change and gets a ledger row.
    """
    changes: dict[str, Any] = {}
    if description is not UNSET:
        changes["description"] = _clean_comment(description, field="description")
    if tags is not UNSET:
        changes["tags"] = clean_tags(tags)
    if changes:
        _require(
            roles.can_edit_model(actor, registered_model),
            "Only the model's team publishers or Governance can edit its description and tags.",
        )
    policy: dict[str, Any] = {}
    if required_approvals is not UNSET:
        policy["required_approvals"] = _clean_required_approvals(required_approvals)
    if team is not UNSET:
        policy["team"] = team
    if policy:
        _require(
            roles.can_govern_model(actor), "Only Governance can change a model's team or required approvals."
        )
    with transaction.atomic():
        model = _lock_model(registered_model.pk)
        before = {"required_approvals": model.required_approvals, "team": model.team.name}
        for key, value in {**changes, **policy}.items():
            setattr(model, key, value)
        model.save()
        if policy:
            after = {"required_approvals": model.required_approvals, "team": model.team.name}
            diff = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
            if diff:
                _record(
                    registered_model=model,
                    kind=LedgerKind.MODEL_CHANGED,
                    actor=actor,
                    details=diff,
                    comment="; ".join(f"{k}: {v['from']} -> {v['to']}" for k, v in diff.items()),
                )
    return model


# -- versions ---------------------------------------------------------------------------------------


def _resolve_parent(registered_model: RegisteredModel, number: int | None) -> ModelVersion | None:
    if number is None:
        return None
    parent = ModelVersion.objects.filter(registered_model=registered_model, version=number).first()
    if parent is None:
        raise InvalidInput(
            f"Version {number} of '{registered_model.name}' does not exist.", field="parent_version"
        )
    return parent


def _check_files(files: Sequence[IncomingFile], expected: dict[str, str]) -> None:
    if not files:
        raise InvalidInput("A version needs at least one file.", field="file")
    seen: set[str] = set()
    for incoming in files:
        validate_artifact_path(incoming.path, field="file")
        if incoming.path in seen:
            raise InvalidInput(f"File path {incoming.path!r} is given twice.", field="file")
        seen.add(incoming.path)
    missing = sorted(set(expected) - seen)
    if missing:
        raise InvalidInput(
            f"Checksums were given for files that were not uploaded: {', '.join(missing)}.", field="files"
        )


def _existing_for_key(registered_model: RegisteredModel, created_by, key: str | None) -> ModelVersion | None:
    if not key:
        return None
    return ModelVersion.objects.filter(
        registered_model=registered_model, created_by=created_by, idempotency_key=key
    ).first()


def version_register(
    *,
    registered_model: RegisteredModel,
    created_by,
    files: Sequence[IncomingFile],
    metadata: dict | None = None,
    idempotency_key: str | None = None,
) -> tuple[ModelVersion, bool]:
    """Store the files and register a ready version; return (version, created).

    Files are streamed into storage (hashed on the way) before any row is written, so a failed
    upload, a checksum mismatch or a refused request leaves no version and no stored bytes. With an
    ``idempotency_key`` a retry returns the version the first attempt created (``created`` False).
    """
    _require(
        roles.can_publish(created_by, registered_model),
        f"Only Publishers of team '{registered_model.team.name}' can register versions of "
        f"'{registered_model.name}'.",
    )
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > 255 or not idempotency_key.isprintable():
            raise InvalidInput("Must be 1-255 printable characters.", field="Idempotency-Key")
    existing = _existing_for_key(registered_model, created_by, idempotency_key)
    if existing is not None:
        return existing, False
    meta = clean_version_metadata(metadata)
    expected = meta.pop("files")
    _check_files(files, expected)
    parent = _resolve_parent(registered_model, meta.pop("parent_version"))

    storage = artifact_storage()
    stored: list[StoredFile] = []
    try:
        for incoming in files:
            key = new_storage_key(registered_model.pk)
            # Recorded before the save so a failure half-way still gets its partial object removed.
            stored.append(StoredFile(incoming.path, key, 0, "", incoming.content_type))
            try:
                size, digest = store_stream(storage=storage, key=key, stream=incoming.stream)
            except RegistryError:
                raise
            except Exception as exc:
                log.warning("storing %s for %s failed: %s", incoming.path, registered_model.name, exc)
                raise StorageUnavailable(
                    f"Storing file {incoming.path!r} failed ({exc.__class__.__name__}); nothing was registered.",
                    field="file",
                ) from exc
            stored[-1] = StoredFile(incoming.path, key, size, digest, incoming.content_type or "")
            want = expected.get(incoming.path) or (incoming.expected_sha256 or "").lower() or None
            if want and want != digest:
                raise ChecksumMismatch(
                    f"File {incoming.path!r} has SHA-256 {digest}, but {want} was declared; nothing was registered.",
                    field=f"files.{incoming.path}.sha256",
                )
        version, created = _version_insert(
            registered_model=registered_model,
            created_by=created_by,
            meta=meta,
            parent=parent,
            stored=stored,
            idempotency_key=idempotency_key,
        )
    except BaseException as exc:
        delete_quietly(storage, [s.storage_key for s in stored])
        if isinstance(exc, Exception):
            events.version_failed_emit(
                registered_model=registered_model,
                actor=created_by,
                reason=str(exc),
                code=getattr(exc, "code", exc.__class__.__name__),
                files=[s.path for s in stored],
            )
        raise
    if not created:
        # A concurrent retry with the same key won; our copy of the bytes is surplus.
        delete_quietly(storage, [s.storage_key for s in stored])
    else:
        transaction.on_commit(partial(metrics.record_registration, sum(s.size for s in stored)))
    return version, created


def _version_row_create(
    model: RegisteredModel, *, status: VersionStatus, meta: dict, parent, created_by, now, idempotency_key
) -> ModelVersion:
    """Take the next number from the locked model's counter and insert the version row."""
    model.last_version_number += 1
    model.save(update_fields=["last_version_number", "updated_at"])
    meta = dict(meta)
    source = meta.pop("source")
    return ModelVersion.objects.create(
        registered_model=model,
        version=model.last_version_number,
        status=status,
        source_repository=source["repository"],
        source_commit=source["commit"],
        source_branch=source["branch"],
        source_dirty=source["dirty"],
        parent=parent,
        created_by=created_by,
        created_at=now,
        idempotency_key=idempotency_key,
        **meta,
    )


def _version_insert(
    *, registered_model, created_by, meta: dict, parent, stored: list[StoredFile], idempotency_key
) -> tuple[ModelVersion, bool]:
    now = timezone.now()
    try:
        with transaction.atomic():
            model = _lock_model(registered_model.pk)
            existing = _existing_for_key(model, created_by, idempotency_key)
            if existing is not None:
                return existing, False
            version = _version_row_create(
                model,
                status=VersionStatus.READY,
                meta=meta,
                parent=parent,
                created_by=created_by,
                now=now,
                idempotency_key=idempotency_key,
            )
            ArtifactFile.objects.bulk_create(
                [
                    ArtifactFile(
                        version=version,
                        path=s.path,
                        size=s.size,
                        sha256=s.sha256,
                        content_type=(s.content_type or "application/octet-stream")[:255],
                        storage_key=s.storage_key,
                        created_at=now,
                    )
                    for s in stored
                ]
            )
            _record(
                registered_model=model,
                version=version,
                kind=LedgerKind.REGISTERED,
                to_stage=Stage.NONE,
                actor=created_by,
                details={"files": len(stored), "bytes": sum(s.size for s in stored)},
                now=now,
            )
            return version, True
    except IntegrityError:
        existing = _existing_for_key(registered_model, created_by, idempotency_key)
        if existing is not None:
            return existing, False
        raise


def version_update(
    *, version: ModelVersion, actor, description: str | _Unset = UNSET, tags: dict | _Unset = UNSET
) -> ModelVersion:
    """Edit a version's description and tags; everything else about a version is immutable."""
    model = version.registered_model
    _require(roles.can_edit_model(actor, model), "Only the model's team publishers can edit its versions.")
    fields = []
    if description is not UNSET:
        version.description = _clean_comment(description, field="description")
        fields.append("description")
    if tags is not UNSET:
        version.tags = clean_tags(tags)
        fields.append("tags")
    if fields:
        version.save(update_fields=fields)
    return version


def version_transition(*, version: ModelVersion, to: Stage | str, actor, comment: str = "") -> ModelVersion:
    """Move a version directly (no approval) where the table allows it.

    Production is refused with ApprovalRequired (it needs a request), archived -> production with
    RollbackRequired. Moves to Archived are the reviewers'; the others belong to the team's publishers.
    """
    target = _clean_stage(to)
    comment = _clean_comment(comment)
    with transaction.atomic():
        model = _lock_model(version.registered_model_id)
        version = _refresh_version(version)
        current = Stage(version.stage)
        if not version.is_ready:
            raise VersionNotReady(
                f"v{version.version} is {version.status}; only ready versions change stage."
            )
        if (current, target) in ROLLBACK_MOVES:
            raise RollbackRequired()
        if target in REQUIRES_APPROVAL and current == Stage.STAGING:
            raise ApprovalRequired()
        check_transition(current, target)
        if target in REVIEWER_TARGETS:
            _require(roles.can_rollback(actor), "Only Reviewers can archive versions.")
        else:
            _require(
                roles.can_publish(actor, model),
                f"Only Publishers of team '{model.team.name}' can move versions of '{model.name}' to {target}.",
            )
        if Stage.PRODUCTION in (current, target):
            policies.check_freeze(registered_model=model, now=timezone.now())
        _set_stage(
            version, target, kind=LedgerKind.DIRECT, actor=actor, registered_model=model, comment=comment
        )
    return version


def version_rollback(
    *, registered_model: RegisteredModel, version_number: int, actor, reason: str
) -> ModelVersion:
    """Return an archived version that was in Production before straight to Production.

    The current Production version is archived in the same transaction (an ``automatic`` row).
    """
    reason = _clean_comment(reason, field="reason", required=True)
    _require(roles.can_rollback(actor), "Only Reviewers can roll back Production.")
    with transaction.atomic():
        model = _lock_model(registered_model.pk)
        version = (
            ModelVersion.objects.select_for_update()
            .filter(registered_model=model, version=version_number)
            .first()
        )
        if version is None:
            raise VersionNotFound(
                f"Version {version_number} of '{model.name}' does not exist.", field="version"
            )
        if not version.is_ready:
            raise VersionNotReady(
                f"v{version.version} is {version.status}; only ready versions change stage."
            )
        was_production = StageTransition.objects.filter(version=version, to_stage=Stage.PRODUCTION).exists()
        if not was_production:
            raise NeverInProduction(
                f"v{version.version} has never been in Production, so it cannot be rolled back to; "
                "request a promotion instead.",
                field="version",
            )
        check_transition(Stage(version.stage), Stage.PRODUCTION, rollback=True)
        _promote(
            version,
            kind=LedgerKind.ROLLBACK,
            actor=actor,
            registered_model=model,
            comment=reason,
            now=timezone.now(),
        )
    return version


# -- transition requests ------------------------------------------------------------------------------


def _clean_stage(value: Stage | str, *, field: str = "to") -> Stage:
    try:
        return Stage(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown stage {value!r}; use one of: {', '.join(Stage.values)}.", field=field
        ) from None


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


# -- aliases ----------------------------------------------------------------------------------------------


def _clean_alias(alias: object) -> str:
    if not isinstance(alias, str):
        raise InvalidInput("Must be a string.", field="alias")
    try:
        alias_validator(alias)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], field="alias") from None
    if alias in Stage.values or alias == "latest":
        raise InvalidInput(f"'{alias}' is reserved for a stage or 'latest'.", field="alias")
    return alias


def _check_expected(alias_row: ModelAlias | None, alias: str, expected_version) -> None:
    if expected_version is UNSET:
        return
    current = alias_row.version.version if alias_row else None
    if current != expected_version:
        raise StaleState(
            f"Alias '@{alias}' points at {f'v{current}' if current else 'nothing'}, "
            f"not {f'v{expected_version}' if expected_version else 'nothing'}; re-read it and retry.",
            field="expected_version",
        )


def alias_set(
    *,
    registered_model: RegisteredModel,
    alias: str,
    version_number: int,
    actor,
    expected_version: Any = UNSET,
) -> ModelAlias:
    """Point ``@alias`` at a ready version. With ``expected_version`` (a number, or None for 'unset')
    this is a compare-and-set that fails with StaleState when someone moved the alias meanwhile."""
    alias = _clean_alias(alias)
    with transaction.atomic():
        model = _lock_model(registered_model.pk)
        _require(
            roles.can_publish(actor, model) or roles.can_rollback(actor),
            f"Only Publishers of team '{model.team.name}' or Reviewers can move aliases of '{model.name}'.",
        )
        version = ModelVersion.objects.filter(registered_model=model, version=version_number).first()
        if version is None:
            raise VersionNotFound(
                f"Version {version_number} of '{model.name}' does not exist.", field="version"
            )
        if not version.is_ready:
            raise VersionNotReady(
                f"v{version.version} is {version.status}; aliases point at ready versions only."
            )
        row = (
            ModelAlias.objects.select_for_update()
            .select_related("version")
            .filter(registered_model=model, name=alias)
            .first()
        )
        _check_expected(row, alias, expected_version)
        previous = row.version.version if row else None
        now = timezone.now()
        if row is None:
            row = ModelAlias.objects.create(
                registered_model=model, name=alias, version=version, updated_by=actor, updated_at=now
            )
        elif previous != version.version:
            row.version, row.updated_by, row.updated_at = version, actor, now
            row.save(update_fields=["version", "updated_by", "updated_at"])
        else:
            return row
        _record(
            registered_model=model,
            version=version,
            kind=LedgerKind.ALIAS_SET,
            alias=alias,
            actor=actor,
            details={"from_version": previous, "to_version": version.version},
            now=now,
        )
    return row


def alias_delete(
    *, registered_model: RegisteredModel, alias: str, actor, expected_version: Any = UNSET
) -> None:
    """Remove ``@alias`` (compare-and-set with ``expected_version`` like ``alias_set``)."""
    alias = _clean_alias(alias)
    with transaction.atomic():
        model = _lock_model(registered_model.pk)
        _require(
            roles.can_publish(actor, model) or roles.can_rollback(actor),
            f"Only Publishers of team '{model.team.name}' or Reviewers can move aliases of '{model.name}'.",
        )
        row = (
            ModelAlias.objects.select_for_update()
            .select_related("version")
            .filter(registered_model=model, name=alias)
            .first()
        )
        if row is None:
            from models_app.exceptions import NotFound

            raise NotFound(f"Alias '@{alias}' does not exist on '{model.name}'.", field="alias")
        _check_expected(row, alias, expected_version)
        version = row.version
        row.delete()
        _record(
            registered_model=model,
            version=version,
            kind=LedgerKind.ALIAS_REMOVED,
            alias=alias,
            actor=actor,
            details={"from_version": version.version, "to_version": None},
        )


# -- deployments ------------------------------------------------------------------------------------------

ENVIRONMENT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")


def _clean_environment(value: object) -> str:
    if not isinstance(value, str) or not ENVIRONMENT_PATTERN.match(value):
        raise InvalidInput(
            "Use 1-64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit "
            "(for example 'prod-eu').",
            field="environment",
        )
    return value


def _clean_deployment_status(value: object) -> DeploymentStatus:
    try:
        return DeploymentStatus(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown status {value!r}; use one of: {', '.join(DeploymentStatus.values)}.", field="status"
        ) from None


def deployment_report(
    *, version: ModelVersion, environment: str, status: DeploymentStatus | str, reported_by, url: str = ""
) -> Deployment:
    """Record what a CD pipeline did with a ready version in an environment.

    Writes the Deployment, a ``deployment`` ledger row and its ``deployment.reported`` event in one
    transaction. The model's team publishers and Reviewers (who roll back) may report.
    """
    environment = _clean_environment(environment)
    status = _clean_deployment_status(status)
    url = clean_url(url, "url")
    with transaction.atomic():
        model = _lock_model(version.registered_model_id)
        version = _refresh_version(version)
        _require(
            roles.can_publish(reported_by, model) or roles.can_rollback(reported_by),
            f"Only Publishers of team '{model.team.name}' or Reviewers can report deployments of '{model.name}'.",
        )
        if not version.is_ready:
            raise VersionNotReady(
                f"v{version.version} is {version.status}; only ready versions are deployed."
            )
        now = timezone.now()
        deployment = Deployment.objects.create(
            registered_model=model,
            version=version,
            environment=environment,
            status=status,
            url=url,
            reported_by=reported_by,
            reported_at=now,
        )
        _record(
            registered_model=model,
            version=version,
            kind=LedgerKind.DEPLOYMENT,
            actor=reported_by,
            comment=f"{status} in {environment}",
            details={
                "deployment_id": deployment.pk,
                "environment": environment,
                "status": str(status),
                "url": url,
            },
            now=now,
        )
    return deployment


# -- direct uploads (S3) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredFile:
    """A file the client will upload straight to the bucket: its label, exact size and SHA-256."""

    path: str
    size: int
    sha256: str
    content_type: str = "application/octet-stream"


def _check_declared_files(files: Sequence[DeclaredFile]) -> None:
    if not files:
        raise InvalidInput("A version needs at least one file.", field="files")
    seen: set[str] = set()
    total = 0
    for i, declared in enumerate(files):
        validate_artifact_path(declared.path, field=f"files[{i}].path")
        if declared.path in seen:
            raise InvalidInput(f"File path {declared.path!r} is given twice.", field=f"files[{i}].path")
        seen.add(declared.path)
        validate_sha256(declared.sha256, field=f"files[{i}].sha256")
        size = declared.size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInput("Must be the file's size in bytes (0 or more).", field=f"files[{i}].size")
        if size > objectstore.MAX_OBJECT_SIZE:
            raise TooLarge(
                f"File {declared.path!r} is larger than the 5 TiB an object may hold.",
                field=f"files[{i}].size",
            )
        total += size
    if total > settings.REGISTRY_MAX_DIRECT_UPLOAD_BYTES:
        raise TooLarge(
            f"The files add up to {total} bytes, more than the configured limit of "
            f"{settings.REGISTRY_MAX_DIRECT_UPLOAD_BYTES} bytes.",
            field="files",
        )


def _direct_storage():
    storage = artifact_storage()
    if not objectstore.is_s3(storage):
        raise DirectUploadUnavailable()
    return storage


def version_upload_begin(
    *,
    registered_model: RegisteredModel,
    created_by,
    files: Sequence[DeclaredFile],
    metadata: dict | None = None,
    idempotency_key: str | None = None,
) -> UploadSession:
    """Number a new ``pending`` version and open one S3 multipart upload per declared file.

    The client then PUTs the parts to presigned URLs and calls ``version_upload_complete``. Keys are
    generated here; the client's paths stay labels. With an ``idempotency_key`` a retry returns the
    session the first attempt opened.
    """
    _require(
        roles.can_publish(created_by, registered_model),
        f"Only Publishers of team '{registered_model.team.name}' can register versions of "
        f"'{registered_model.name}'.",
    )
    storage = _direct_storage()
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > 255 or not idempotency_key.isprintable():
            raise InvalidInput("Must be 1-255 printable characters.", field="Idempotency-Key")
    existing = _existing_for_key(registered_model, created_by, idempotency_key)
    if existing is not None:
        session = UploadSession.objects.filter(version=existing).first()
        if session is None:
            raise Conflict(
                f"Idempotency-Key was already used for v{existing.version}, registered in one request.",
                field="Idempotency-Key",
            )
        return session
    meta = clean_version_metadata(metadata)
    if meta.pop("files"):
        raise InvalidInput(
            "Declare each file's size and SHA-256 in the 'files' list.", field="metadata.files"
        )
    _check_declared_files(files)
    parent = _resolve_parent(registered_model, meta.pop("parent_version"))
    preferred = settings.REGISTRY_UPLOAD_PART_SIZE
    part_size = max(objectstore.plan_part_size(f.size, preferred) for f in files)

    opened: list[tuple[DeclaredFile, str, str]] = []
    try:
        for declared in files:
            key = new_storage_key(registered_model.pk)
            upload_id = objectstore.multipart_create(storage, key, content_type=declared.content_type)
            opened.append((declared, key, upload_id))
        session = _upload_session_insert(
            registered_model=registered_model,
            created_by=created_by,
            meta=meta,
            parent=parent,
            part_size=part_size,
            opened=opened,
            idempotency_key=idempotency_key,
        )
    except BaseException:
        _abort_quietly(storage, [(key, upload_id) for _, key, upload_id in opened])
        raise
    if session.files.filter(upload_id__in=[u for _, _, u in opened]).count() != len(opened):
        # A concurrent retry with the same key won; our uploads are surplus.
        _abort_quietly(storage, [(key, upload_id) for _, key, upload_id in opened])
    return session


def _upload_session_insert(
    *, registered_model, created_by, meta: dict, parent, part_size: int, opened, idempotency_key
) -> UploadSession:
    now = timezone.now()
    try:
        with transaction.atomic():
            model = _lock_model(registered_model.pk)
            existing = _existing_for_key(model, created_by, idempotency_key)
            if existing is not None:
                return UploadSession.objects.get(version=existing)
            version = _version_row_create(
                model,
                status=VersionStatus.PENDING,
                meta=meta,
                parent=parent,
                created_by=created_by,
                now=now,
                idempotency_key=idempotency_key,
            )
            session = UploadSession.objects.create(
                version=version,
                created_by=created_by,
                part_size=part_size,
                created_at=now,
                updated_at=now,
                expires_at=now + timedelta(hours=settings.REGISTRY_UPLOAD_EXPIRY_HOURS),
            )
            UploadFile.objects.bulk_create(
                [
                    UploadFile(
                        session=session,
                        path=declared.path,
                        size=declared.size,
                        sha256=declared.sha256.lower(),
                        content_type=(declared.content_type or "application/octet-stream")[:255],
                        storage_key=key,
                        upload_id=upload_id,
                        part_count=objectstore.part_count(declared.size, part_size),
                    )
                    for declared, key, upload_id in opened
                ]
            )
            return session
    except IntegrityError:
        existing = _existing_for_key(registered_model, created_by, idempotency_key)
        if existing is not None:
            return UploadSession.objects.get(version=existing)
        raise


def _abort_quietly(storage, uploads) -> None:
    for key, upload_id in uploads:
        try:
            objectstore.multipart_abort(storage, key, upload_id=upload_id)
        except Exception:  # gc_artifacts aborts what is left once the grace period is over
            log.warning("could not abort multipart upload %s of %s", upload_id, key, exc_info=True)


def _claim_session(session: UploadSession, actor) -> tuple[UploadSession, bool]:
    """Move an open session to ``completing`` so only one completion runs; (session, already_done)."""
    with transaction.atomic():
        session = UploadSession.objects.select_for_update().select_related("version").get(pk=session.pk)
        _require(
            session.created_by_id == actor.pk or roles.can_publish(actor, session.version.registered_model),
            "Only the model's team publishers can complete or abort its uploads.",
        )
        if session.status == UploadStatus.COMPLETED:
            return session, True
        if session.status == UploadStatus.COMPLETING:
            raise UploadClosed(f"Upload {session.pk} is being completed by another request; retry shortly.")
        if session.status != UploadStatus.OPEN:
            raise UploadClosed(
                f"Upload {session.pk} is {session.status}; v{session.version.version} is "
                f"{session.version.status}. Start a new upload."
                + (f" ({session.error})" if session.error else "")
            )
        if session.expires_at <= timezone.now():
            raise UploadClosed(
                f"Upload {session.pk} expired at {session.expires_at.isoformat()}; start a new one."
            )
        session.status = UploadStatus.COMPLETING
        session.updated_at = timezone.now()
        session.save(update_fields=["status", "updated_at"])
    return session, False


def _reopen(session: UploadSession) -> None:
    UploadSession.objects.filter(pk=session.pk, status=UploadStatus.COMPLETING).update(
        status=UploadStatus.OPEN, updated_at=timezone.now()
    )


def _assemble(storage, upload: UploadFile) -> None:
    """Complete one file's multipart upload after checking every part is there."""
    parts = objectstore.multipart_parts(storage, upload.storage_key, upload_id=upload.upload_id)
    if parts is None:
        # Completed by an earlier attempt that failed later on, or aborted: the object tells which.
        if objectstore.object_size(storage, upload.storage_key) is None:
            raise _UploadRejected(upload, f"The upload of file {upload.path!r} no longer exists.", "files")
        return
    have = {p["PartNumber"]: p for p in parts}
    missing = [n for n in range(1, upload.part_count + 1) if n not in have]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
        raise UploadIncomplete(
            f"File {upload.path!r}: part(s) {shown} of {upload.part_count} have not been uploaded yet.",
            field=f"files.{upload.path}",
        )
    wanted = [have[n] for n in range(1, upload.part_count + 1)]
    uploaded = sum(int(p["Size"]) for p in wanted)
    if uploaded != upload.size:
        raise _UploadRejected(
            upload,
            f"File {upload.path!r} was declared as {upload.size} bytes but its parts hold {uploaded}.",
            f"files.{upload.path}.size",
        )
    try:
        objectstore.multipart_complete(storage, upload.storage_key, upload_id=upload.upload_id, parts=wanted)
    except objectstore.MultipartRefused as exc:
        raise _UploadRejected(
            upload,
            f"The bucket refused to assemble file {upload.path!r} ({exc.code}).",
            f"files.{upload.path}",
        ) from exc


class _UploadRejected(Exception):
    def __init__(self, upload: UploadFile, message: str, field: str):
        super().__init__(message)
        self.upload, self.message, self.field = upload, message, field


def _verify_stored(storage, upload: UploadFile) -> None:
    """Check the assembled object's size and full-object SHA-256 by streaming it from the bucket.

    S3's own multipart checksums are composites of the parts' checksums, so they cannot be compared
    with the SHA-256 of the whole file that clients declare and later verify.
    """
    size, digest = objectstore.hash_object(storage, upload.storage_key)
    if size != upload.size:
        raise _UploadRejected(
            upload,
            f"File {upload.path!r} is {size} bytes in the bucket, but {upload.size} were declared.",
            f"files.{upload.path}.size",
        )
    if digest != upload.sha256:
        raise _UploadRejected(
            upload,
            f"File {upload.path!r} has SHA-256 {digest}, but {upload.sha256} was declared; "
            "the upload was refused and its bytes removed.",
            f"files.{upload.path}.sha256",
        )


def version_upload_complete(*, session: UploadSession, actor) -> ModelVersion:
    """Finish a direct upload: assemble each file, verify its size and SHA-256, then mark the version
    ``ready`` with its files in one transaction.

    Missing parts answer UploadIncomplete and leave the session open; a size or checksum mismatch
    marks the version ``failed`` (it keeps its number), removes the uploaded bytes and raises
    ChecksumMismatch naming the file. An unreachable bucket leaves the session open for a retry.
    Completing an already completed session returns its version.
    """
    storage = _direct_storage()
    session, done = _claim_session(session, actor)
    if done:
        return session.version
    uploads = list(session.files.all())
    try:
        for upload in uploads:
            _assemble(storage, upload)
        for upload in uploads:
            _verify_stored(storage, upload)
    except _UploadRejected as exc:
        _fail_session(
            session,
            reason=exc.message,
            storage=storage,
            status=UploadStatus.FAILED,
            code=ChecksumMismatch.code,
        )
        raise ChecksumMismatch(exc.message, field=exc.field) from None
    except BaseException:
        _reopen(session)
        raise
    return _version_make_ready(session=session, actor=actor, uploads=uploads)


def _version_make_ready(*, session: UploadSession, actor, uploads: list[UploadFile]) -> ModelVersion:
    now = timezone.now()
    with transaction.atomic():
        model = _lock_model(session.version.registered_model_id)
        version = _refresh_version(session.version)
        locked = UploadSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != UploadStatus.COMPLETING or version.status != VersionStatus.PENDING:
            raise UploadClosed(f"Upload {session.pk} was {locked.status} while it was being completed.")
        ArtifactFile.objects.bulk_create(
            [
                ArtifactFile(
                    version=version,
                    path=u.path,
                    size=u.size,
                    sha256=u.sha256,
                    content_type=u.content_type,
                    storage_key=u.storage_key,
                    created_at=now,
                )
                for u in uploads
            ]
        )
        version.status = VersionStatus.READY
        version.save(update_fields=["status"])
        locked.status = UploadStatus.COMPLETED
        locked.updated_at = now
        locked.save(update_fields=["status", "updated_at"])
        _record(
            registered_model=model,
            version=version,
            kind=LedgerKind.REGISTERED,
            to_stage=Stage.NONE,
            actor=actor,
            details={"files": len(uploads), "bytes": sum(u.size for u in uploads), "direct_upload": True},
            now=now,
        )
    return version


def _fail_session(session: UploadSession, *, reason: str, storage, status: UploadStatus, code: str) -> bool:
    """Mark the session and its version failed first (so nothing can ever reference the bytes), then
    remove the objects and abort the multipart uploads; what cannot be removed now, gc_artifacts
    removes later. Returns False (and touches nothing) if the session was closed meanwhile."""
    now = timezone.now()
    with transaction.atomic():
        _lock_model(session.version.registered_model_id)
        version = _refresh_version(session.version)
        locked = UploadSession.objects.select_for_update().get(pk=session.pk)
        if locked.status not in (UploadStatus.OPEN, UploadStatus.COMPLETING):
            return False
        locked.status, locked.error, locked.updated_at = status, reason[:2000], now
        locked.save(update_fields=["status", "error", "updated_at"])
        if version.status == VersionStatus.PENDING:
            version.status = VersionStatus.FAILED
            version.status_reason = reason
            version.save(update_fields=["status", "status_reason"])
    uploads = list(session.files.all())
    events.version_failed_emit(
        registered_model=version.registered_model,
        actor=session.created_by,
        reason=reason,
        code=code,
        files=[u.path for u in uploads],
    )
    if storage is not None:
        referenced = set(
            ArtifactFile.objects.filter(storage_key__in=[u.storage_key for u in uploads]).values_list(
                "storage_key", flat=True
            )
        )
        _abort_quietly(storage, [(u.storage_key, u.upload_id) for u in uploads])
        delete_quietly(storage, [u.storage_key for u in uploads if u.storage_key not in referenced])
    return True


def version_upload_abort(*, session: UploadSession, actor, reason: str = "") -> UploadSession:
    """Give up a direct upload: the version becomes ``failed`` and the uploaded parts are removed."""
    storage = _direct_storage()
    reason = _clean_comment(reason, field="reason") or "Aborted by the client."
    with transaction.atomic():
        locked = UploadSession.objects.select_for_update().select_related("version").get(pk=session.pk)
        _require(
            locked.created_by_id == actor.pk or roles.can_publish(actor, locked.version.registered_model),
            "Only the model's team publishers can complete or abort its uploads.",
        )
        if locked.status not in (UploadStatus.OPEN, UploadStatus.COMPLETING):
            raise UploadClosed(f"Upload {locked.pk} is already {locked.status}.")
        if locked.status == UploadStatus.COMPLETING:
            raise UploadClosed(f"Upload {locked.pk} is being completed; it can no longer be aborted.")
    _fail_session(locked, reason=reason, storage=storage, status=UploadStatus.ABORTED, code="upload_aborted")
    locked.refresh_from_db()
    return locked


def upload_sessions_expire(*, now=None) -> list[UploadSession]:
    """Abort every upload left open past its expiry, or stuck completing for as long (a crashed
    completion), and remove its bytes. Run by ``cleanup_uploads`` and ``gc_artifacts``."""
    now = now or timezone.now()
    stale = list(
        UploadSession.objects.select_related("version")
        .filter(
            Q(status=UploadStatus.OPEN, expires_at__lte=now)
            | Q(
                status=UploadStatus.COMPLETING,
                updated_at__lte=now - timedelta(hours=settings.REGISTRY_UPLOAD_EXPIRY_HOURS),
            )
        )
        .order_by("created_at")
    )
    if not stale:
        return []
    storage = artifact_storage()
    # Without S3 the parts' bucket is no longer configured: record the outcome, leave the bytes.
    storage = storage if objectstore.is_s3(storage) else None
    expired = []
    for session in stale:
        reason = f"The upload was abandoned; it expired at {session.expires_at.isoformat()}."
        if _fail_session(
            session, reason=reason, storage=storage, status=UploadStatus.ABORTED, code="upload_expired"
        ):
            expired.append(session)
    return expired


# -- promotion policies ---------------------------------------------------------------------------------


def promotion_policy_set(
    *,
    registered_model: RegisteredModel,
    actor,
    metric_gates: list | _Unset = UNSET,
    group_approvals: dict | _Unset = UNSET,
    freeze_windows: list | _Unset = UNSET,
    required_approvals: int | _Unset = UNSET,
    comment: str = "",
) -> PromotionPolicy:
    """Governance sets a model's promotion policy; each change is a ``policy_changed`` ledger row.

    Arguments left out keep their value. The row records the whole policy before and after.
    """
    _require(roles.can_govern_model(actor), "Only Governance can change a model's promotion policy.")
    changes: dict[str, Any] = {}
    if metric_gates is not UNSET:
        changes["metric_gates"] = policies.clean_metric_gates(metric_gates)
    if group_approvals is not UNSET:
        changes["group_approvals"] = policies.clean_group_approvals(group_approvals)
    if freeze_windows is not UNSET:
        changes["freeze_windows"] = policies.clean_freeze_windows(freeze_windows)
    if required_approvals is not UNSET:
        required_approvals = _clean_required_approvals(required_approvals)
    comment = _clean_comment(comment)
    with transaction.atomic():
        model = _lock_model(registered_model.pk)
        record = PromotionPolicy.objects.select_for_update().filter(registered_model=model).first()
        before = policies.policy_from_record(model, record).as_dict()
        if record is None:
            record = PromotionPolicy(registered_model=model, updated_by=actor)
        for key, value in changes.items():
            setattr(record, key, value)
        if required_approvals is not UNSET:
            model.required_approvals = required_approvals
        after = policies.policy_from_record(model, record).as_dict()
        if after == before:
            return record
        now = timezone.now()
        if required_approvals is not UNSET:
            model.save(update_fields=["required_approvals", "updated_at"])
        record.updated_by, record.updated_at = actor, now
        record.save()
        changed = sorted(k for k in after if after[k] != before[k])
        _record(
            registered_model=model,
            kind=LedgerKind.POLICY_CHANGED,
            actor=actor,
            details={"changed": changed, "from": before, "to": after},
            comment=comment or f"Promotion policy changed: {', '.join(changed)}.",
            now=now,
        )
    return record
