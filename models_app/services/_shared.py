"""Helpers every service shares: the model row lock, ledger rows, stage changes, input cleaning.

Private to the services package; edges never import it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Model, OuterRef
from django.db.models.functions import JSONObject
from django.utils import timezone

from models_app import ledger
from models_app.aggregates import json_rows_of
from models_app.choices import (
    LedgerKind,
    RequestStatus,
    Stage,
    VersionStatus,
)
from models_app.compiled import CompiledQuery, insert_led_by
from models_app.exceptions import (
    InvalidInput,
)
from models_app.metadata import clean_tags
from models_app.models import (
    ArtifactFile,
    LedgerEntry,
    ModelVersion,
    RegisteredModel,
    TransitionRequest,
)
from models_app.ops import metrics
from models_app.ops.context import current_request_id
from models_app.pipeline import events
from models_app.storage.artifacts import validate_artifact_path

log = logging.getLogger("models_app.lifecycle")


class Unset:
    """Marker for 'argument not given' where None is a meaningful value (the one such marker)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = Unset()
T = TypeVar("T")
F = TypeVar("F")


def lock_model(pk: int) -> RegisteredModel:
    """Lock a model's row for the rest of the transaction: every write to a model's versions, requests,
    aliases or policy takes it first, which serializes numbering and promotion per model.

    ``of=("self",)``: the team comes joined for messages and webhook scopes, but its ``auth_group`` row
    stays unlocked, so writes to different models of one team never wait for each other here (and a
    model creation's foreign-key check on the team cannot deadlock against a registration)."""
    found = _LOCK_MODEL.run(pk=pk)
    if not found:
        raise RegisteredModel.DoesNotExist("RegisteredModel matching query does not exist.")
    return found[0]


# The statements every write starts with, compiled once per process (models_app/compiled.py).
_LOCK_MODEL = CompiledQuery(
    lambda pk: (
        RegisteredModel.objects.select_for_update(of=("self",))
        .select_related("team")
        .annotate(active_subscriptions=events.subscriptions_column())  # for the write's events
        .filter(pk=pk)
    ),
    pk=9_007_199_254_740_881,
)
_LOCK_VERSION = CompiledQuery(
    lambda pk: (
        ModelVersion.objects.select_for_update(of=("self",))
        .annotate(
            # What a stage change's ledger row and event need besides the row, read with it.
            file_list=json_rows_of(
                ArtifactFile.objects.filter(version_id=OuterRef("pk")),
                JSONObject(path="path", size="size", sha256="sha256"),
            ),
            open_stage_requests=Exists(
                TransitionRequest.objects.filter(
                    version_id=OuterRef("pk"), target_alias="", status=RequestStatus.PENDING
                )
            ),
        )
        .filter(pk=pk)
    ),
    pk=9_007_199_254_740_881,
)


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
    also: Sequence[Model] = (),
    updating: Sequence[tuple[Model, Sequence[str]]] = (),
) -> LedgerEntry:
    """Append a ledger row and its event (webhook deliveries, notifications) in the caller's
    transaction. ``also``: more unsaved rows of the same write, inserted with them; ``updating``: the
    write's changes to rows it holds locked, ``(row, field names)``. On PostgreSQL all of it is one
    statement while the ledger head is held."""
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
    built: list = []

    def with_rows(sequence: int) -> list:
        built.append(events.ledger_event_row(row, sequence=sequence))
        return [*also, *built]

    ledger.append(row, with_rows=with_rows, updating=updating)
    events.ledger_event_written(built[0], row)
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
    version.stage = target
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
        updating=[(version, ["stage"])],  # the version's row is locked: its update cannot wait
    )
    if previous == Stage.STAGING and target != Stage.PRODUCTION:
        cancel_stranded_requests(
            version, Stage.PRODUCTION, actor=actor, registered_model=registered_model, now=now
        )
    elif previous == Stage.PRODUCTION:
        cancel_stranded_requests(
            version, Stage.ARCHIVED, actor=actor, registered_model=registered_model, now=now
        )


def request_decided(req: TransitionRequest, status: RequestStatus, *, now) -> None:
    """Set a pending request's outcome (approved, rejected or cancelled) and when it was decided."""
    req.status = status
    req.decided_at = now
    req.save(update_fields=["status", "decided_at"])


def request_close(
    req: TransitionRequest,
    status: RequestStatus,
    *,
    kind: LedgerKind,
    registered_model: RegisteredModel,
    version: ModelVersion,
    actor,
    comment: str,
    now,
) -> None:
    """Close a pending request without applying it (rejected, cancelled) and append the ledger row."""
    request_decided(req, status, now=now)
    record(
        registered_model=registered_model,
        version=version,
        kind=kind,
        actor=actor,
        transition_request=req,
        comment=comment,
        now=now,
    )


def cancel_stranded_requests(
    version: ModelVersion, target: Stage, *, actor, registered_model: RegisteredModel, now
) -> None:
    """Close the open requests to ``target`` a stage change made pointless: a version that leaves Staging
    any other way can no longer be promoted, one superseded in Production no longer retired. (Requests
    for a protected alias stay open: the version can still carry it.)"""
    if getattr(version, "open_stage_requests", True) is False:
        return  # its lock found none, and requests are only opened under the model lock we hold
    left = "Staging" if target == Stage.PRODUCTION else "Production"
    for req in TransitionRequest.objects.select_for_update().filter(
        version=version, target_stage=target, target_alias="", status=RequestStatus.PENDING
    ):
        request_close(
            req,
            RequestStatus.CANCELLED,
            kind=LedgerKind.CANCELLATION,
            registered_model=registered_model,
            version=version,
            actor=actor,
            comment=f"Cancelled automatically: v{version.version} left {left}.",
            now=now or timezone.now(),
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
    move = partial(
        set_stage,
        actor=actor,
        registered_model=registered_model,
        transition_request=transition_request,
        now=now,
    )
    # Demote first: the one-Production partial unique index cannot be deferred to commit.
    for old in (
        ModelVersion.objects.filter(registered_model_id=registered_model.pk)
        .production()
        .exclude(pk=version.pk)
    ):
        move(old, Stage.ARCHIVED, kind=LedgerKind.AUTOMATIC, comment=f"Superseded by v{version.version}.")
    move(version, Stage.PRODUCTION, kind=kind, comment=comment)


def refresh_version(version: ModelVersion, model: RegisteredModel) -> ModelVersion:
    """Re-read and lock a version; the caller holds ``model``'s lock, which the version keeps a link to."""
    found = _LOCK_VERSION.run(pk=version.pk)
    if not found:
        raise ModelVersion.DoesNotExist("ModelVersion matching query does not exist.")
    fresh = found[0]
    fresh.registered_model = model
    if fresh.status != VersionStatus.READY:
        del fresh.file_list  # files may still be added or checked: the event reads them when it is written
    else:
        fresh.file_list = fresh.file_list or []
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


def _version_row_create(
    model: RegisteredModel, *, status: VersionStatus, meta: dict, parent, created_by, now, idempotency_key
) -> ModelVersion:
    """Take the next number from the locked model's counter and insert the version row."""
    model.last_version_number += 1
    model.updated_at = now
    meta = dict(meta)
    source = meta.pop("source")
    version = ModelVersion(
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
    if connection.vendor != "postgresql":
        model.save(update_fields=["last_version_number", "updated_at"])
        version.save(force_insert=True)
        return version
    # The counter moves in the statement that inserts the version: one round trip under the model's lock.
    table = connection.ops.quote_name(RegisteredModel._meta.db_table)
    insert_led_by(
        version,
        f"UPDATE {table} SET last_version_number = %s, updated_at = %s WHERE id = %s",  # noqa: S608
        [model.last_version_number, now, model.pk],
    )
    return version


def version_create_once(
    registered_model: RegisteredModel,
    *,
    status: VersionStatus,
    meta: dict,
    parent,
    created_by,
    idempotency_key: str | None,
    then: Callable[[RegisteredModel, ModelVersion, Any], T],
    found: Callable[[ModelVersion], T],
) -> T:
    """Number and insert a version under the model's lock, run ``then(model, version, now)`` in the same
    transaction and return its answer.

    If an earlier attempt with the same idempotency key created a version (seen under the lock, or by
    the unique key when a concurrent attempt won the race), nothing is written and ``found(version)``
    is the answer instead.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            model = lock_model(registered_model.pk)
            existing = existing_for_key(model, created_by, idempotency_key)
            if existing is not None:
                return found(existing)
            version = _version_row_create(
                model,
                status=status,
                meta=meta,
                parent=parent,
                created_by=created_by,
                now=now,
                idempotency_key=idempotency_key,
            )
            return then(model, version, now)
    except IntegrityError:
        existing = existing_for_key(registered_model, created_by, idempotency_key)
        if existing is not None:
            return found(existing)
        raise


def checked_files(
    files: Sequence[F], *, path_field: Callable[[int], str], empty_field: str
) -> Iterator[tuple[int, F]]:
    """Yield ``(index, file)`` for the files of a new version, each once its ``path`` is checked (a valid
    label, not given twice); a version without files is refused naming ``empty_field``."""
    if not files:
        raise InvalidInput("A version needs at least one file.", field=empty_field)
    seen: set[str] = set()
    for i, incoming in enumerate(files):
        field = path_field(i)
        validate_artifact_path(incoming.path, field=field)
        if incoming.path in seen:
            raise InvalidInput(f"File path {incoming.path!r} is given twice.", field=field)
        seen.add(incoming.path)
        yield i, incoming


def registration_record(
    model: RegisteredModel, version: ModelVersion, files: Sequence, *, actor, now, **details
) -> None:
    """Insert the rows of a version's stored files (anything with path, size, sha256, content_type and
    storage_key) and its ``registered`` ledger row, which counts them; ``details`` add to that row."""
    rows = [
        ArtifactFile(
            version=version,
            path=f.path,
            size=f.size,
            sha256=f.sha256,
            content_type=(f.content_type or "application/octet-stream")[:255],
            storage_key=f.storage_key,
            created_at=now,
        )
        for f in files
    ]
    record(
        registered_model=model,
        version=version,
        kind=LedgerKind.REGISTERED,
        to_stage=Stage.NONE,
        actor=actor,
        details={"files": len(files), "bytes": sum(f.size for f in files), **details},
        now=now,
        also=rows,
    )


def clean_card(*, description: Any = UNSET, tags: Any = UNSET) -> dict[str, Any]:
    """The card fields given (a model's or a version's description and tags), cleaned; UNSET ones are
    left out."""
    changes: dict[str, Any] = {}
    if description is not UNSET:
        changes["description"] = clean_comment(description, field="description")
    if tags is not UNSET:
        changes["tags"] = clean_tags(tags)
    return changes


def card_apply(row, changes: dict[str, Any]) -> list[str]:
    """Set on ``row`` (unsaved) the card fields whose value changes; their names, sorted."""
    edited = sorted(k for k, v in changes.items() if getattr(row, k) != v)
    for key in edited:
        setattr(row, key, changes[key])
    return edited


def card_edit_record(
    *, registered_model: RegisteredModel, actor, edited: list[str], version: ModelVersion | None = None
) -> None:
    """The ledger row of a card edit: which fields changed (the text itself is on the model or version)."""
    record(
        registered_model=registered_model,
        version=version,
        kind=LedgerKind.VERSION_EDITED if version is not None else LedgerKind.MODEL_EDITED,
        actor=actor,
        details={"edited": edited},
        comment=f"Card edited: {', '.join(edited)}.",
    )


def clean_validated(value: object, validator: Callable[[str], None], *, field: str) -> str:
    """A string that passes a model field's ``validator``; refused naming ``field`` with its message."""
    if not isinstance(value, str):
        raise InvalidInput("Must be a string.", field=field)
    try:
        validator(value)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], field=field) from None
    return value


def clean_stage(value: Stage | str, *, field: str = "to") -> Stage:
    """A stage given by its value (``staging``), refused with the list of stages otherwise."""
    try:
        return Stage(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown stage {value!r}; use one of: {', '.join(Stage.values)}.", field=field
        ) from None
