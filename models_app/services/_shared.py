"""Helpers every service shares: the model row lock, ledger rows, stage changes, input cleaning.

Private to the services package; edges never import it.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from models_app import ledger
from models_app.choices import (
    LedgerKind,
    RequestStatus,
    Stage,
    VersionStatus,
)
from models_app.exceptions import (
    InvalidInput,
)
from models_app.models import (
    LedgerEntry,
    ModelVersion,
    RegisteredModel,
    TransitionRequest,
)
from models_app.ops import metrics
from models_app.ops.context import current_request_id
from models_app.pipeline import events

log = logging.getLogger("models_app.lifecycle")


class Unset:
    """Marker for 'argument not given' where None is a meaningful value (the one such marker)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = Unset()


def lock_model(pk: int) -> RegisteredModel:
    """Lock a model's row for the rest of the transaction: every write to a model's versions, requests,
    aliases or policy takes it first, which serializes numbering and promotion per model."""
    return RegisteredModel.objects.select_for_update().select_related("team").get(pk=pk)


def record(
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
) -> LedgerEntry:
    row = LedgerEntry(
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


def set_stage(
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
    record(
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
        cancel_stranded_requests(version, actor=actor, registered_model=registered_model, now=now)


def cancel_stranded_requests(version: ModelVersion, *, actor, registered_model: RegisteredModel, now) -> None:
    """A version that leaves Staging any other way can no longer be promoted: close its open requests."""
    for req in TransitionRequest.objects.select_for_update().filter(
        version=version, status=RequestStatus.PENDING
    ):
        req.status = RequestStatus.CANCELLED
        req.decided_at = now or timezone.now()
        req.save(update_fields=["status", "decided_at"])
        record(
            registered_model=registered_model,
            version=version,
            kind=LedgerKind.CANCELLATION,
            actor=actor,
            transition_request=req,
            comment=f"Cancelled automatically: v{version.version} left Staging.",
            now=now,
        )


def promote(
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
        set_stage(
            old,
            Stage.ARCHIVED,
            kind=LedgerKind.AUTOMATIC,
            actor=actor,
            registered_model=registered_model,
            transition_request=transition_request,
            comment=f"Superseded by v{version.version}.",
            now=now,
        )
    set_stage(
        version,
        Stage.PRODUCTION,
        kind=kind,
        actor=actor,
        registered_model=registered_model,
        transition_request=transition_request,
        comment=comment,
        now=now,
    )


def refresh_version(version: ModelVersion, model: RegisteredModel) -> ModelVersion:
    """Re-read and lock a version; the caller holds ``model``'s lock, which the version keeps a link to."""
    fresh = ModelVersion.objects.select_for_update().get(pk=version.pk)
    fresh.registered_model = model
    return fresh


def clean_comment(value: str | None, *, field: str = "comment", required: bool = False) -> str:
    """A comment, reason or description: trimmed, at most 10,000 characters, no control characters."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput("A reason is required.", field=field)
    if len(text) > 10_000:
        raise InvalidInput("Must be at most 10000 characters.", field=field)
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        raise InvalidInput("Must not contain control characters.", field=field)
    return text


def resolve_parent(registered_model: RegisteredModel, number: int | None) -> ModelVersion | None:
    """The parent version named in a registration's metadata (same model), or None."""
    if number is None:
        return None
    parent = ModelVersion.objects.filter(registered_model=registered_model, version=number).first()
    if parent is None:
        raise InvalidInput(
            f"Version {number} of '{registered_model.name}' does not exist.", field="parent_version"
        )
    return parent


def clean_idempotency_key(value: str | None) -> str | None:
    """The ``Idempotency-Key`` a registration was sent with: 1-255 printable characters, or None."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 255 or not value.isprintable():
        raise InvalidInput("Must be 1-255 printable characters.", field="Idempotency-Key")
    return value


def existing_for_key(registered_model: RegisteredModel, created_by, key: str | None) -> ModelVersion | None:
    """The version an earlier attempt with this idempotency key created, if any."""
    if not key:
        return None
    return ModelVersion.objects.filter(
        registered_model=registered_model, created_by=created_by, idempotency_key=key
    ).first()


def version_row_create(
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


def clean_stage(value: Stage | str, *, field: str = "to") -> Stage:
    """A stage given by its value (``staging``), refused with the list of stages otherwise."""
    try:
        return Stage(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown stage {value!r}; use one of: {', '.join(Stage.values)}.", field=field
        ) from None
