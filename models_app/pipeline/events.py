"""The events outbox: every lifecycle change becomes an Event in the transaction of the change.

Each ledger row a service appends (through the services' shared ``record``) has its event built by
``ledger_event_row`` and inserted with the row; ``event_emit`` writes the events of changes that have no
ledger row (a version that failed). Each event is
fanned out to the matching active webhook subscriptions as pending deliveries in the same transaction;
the delivery worker sends them after commit.

Event types (``EventType``; the webhook body's ``type``):

==========================  =============================================================================
``model.created``           a model was created
``model.updated``           a model's card or governance settings changed (team, approvals, policy)
``version.registered``      a version was registered and is ready (``data.files`` lists its files)
``version.failed``          a registration failed after its upload began (storage error, checksum mismatch)
``version.updated``         a version's description or tags were edited
``transition.requested``    a promotion was requested
``transition.approved``     a reviewer approved a request (``data.complete`` tells whether it was applied)
``transition.rejected``     a reviewer rejected a request
``transition.cancelled``    a request was cancelled (by its requester, or because the version left Staging)
``stage.changed``           a version changed stage (``data.kind``: direct, approved, or automatic archive)
``stage.rolled_back``       a version was rolled back into Production
``alias.moved``             an alias was set, moved or removed (``data.to_version`` is null when removed)
``deployment.reported``     a CD pipeline reported a deployment (started, succeeded, failed)
``version.purged``          a version's files were purged (``data.bytes_freed``; ``data.by``: governance
                            or retention); downloads of it answer 410 from now on
``hold.placed``             Governance placed a legal hold (``data.scope``: version or model)
``hold.released``           Governance released a legal hold
==========================  =============================================================================
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.db.models import JSONField, OuterRef, Q, Subquery, Value
from django.db.models.functions import JSONObject

from models_app import ledger
from models_app.aggregates import JSONArrayAgg
from models_app.choices import Decision, EventType, LedgerKind
from models_app.compiled import CompiledQuery
from models_app.models import (
    Approval,
    ArtifactFile,
    Event,
    LedgerEntry,
    ModelVersion,
    RegisteredModel,
    WebhookDelivery,
    WebhookSubscription,
)
from models_app.models.pipeline import subscription_wants
from models_app.ops.context import current_request_id
from models_app.pipeline.notifications import notifications_queue

log = logging.getLogger("models_app.events")

LEDGER_EVENT_TYPES: dict[str, EventType] = {
    LedgerKind.DIRECT: EventType.STAGE_CHANGED,
    LedgerKind.APPROVED: EventType.STAGE_CHANGED,
    LedgerKind.AUTOMATIC: EventType.STAGE_CHANGED,
    LedgerKind.ROLLBACK: EventType.ROLLBACK,
    LedgerKind.REGISTERED: EventType.VERSION_REGISTERED,
    LedgerKind.REQUESTED: EventType.TRANSITION_REQUESTED,
    LedgerKind.APPROVAL: EventType.TRANSITION_APPROVED,
    LedgerKind.REJECTION: EventType.TRANSITION_REJECTED,
    LedgerKind.CANCELLATION: EventType.TRANSITION_CANCELLED,
    LedgerKind.ALIAS_SET: EventType.ALIAS_MOVED,
    LedgerKind.ALIAS_REMOVED: EventType.ALIAS_MOVED,
    LedgerKind.MODEL_CHANGED: EventType.MODEL_UPDATED,
    LedgerKind.POLICY_CHANGED: EventType.MODEL_UPDATED,
    LedgerKind.DEPLOYMENT: EventType.DEPLOYMENT_REPORTED,
    LedgerKind.MODEL_CREATED: EventType.MODEL_CREATED,
    LedgerKind.MODEL_EDITED: EventType.MODEL_UPDATED,
    LedgerKind.VERSION_EDITED: EventType.VERSION_UPDATED,
    LedgerKind.PURGED: EventType.VERSION_PURGED,
    LedgerKind.HOLD_PLACED: EventType.HOLD_PLACED,
    LedgerKind.HOLD_RELEASED: EventType.HOLD_RELEASED,
}
# Events whose data carries the version's files, so a CD receiver can fetch and verify without a lookup.
_WITH_FILES = frozenset({EventType.VERSION_REGISTERED, EventType.STAGE_CHANGED, EventType.ROLLBACK})


def _next_sequence(registered_model: RegisteredModel | None, *, sequence: int | None) -> int:
    # Sequences come from the ledger head, whose row lock every event-writing transaction holds until it
    # commits, so they are handed out and committed in one order: the feed cursor can never pass an
    # event that commits later. A ledger row's event has its sequence already (``ledger.append``
    # reserved it in the same statement that moved the chain). On SQLite every write is serial anyway.
    if sequence is not None:
        return sequence
    if registered_model is not None:
        # Lock order everywhere: model row, then ledger head. Taking the head first would deadlock
        # with a service holding the model lock, because the event's foreign key to the model must
        # wait for that lock while we hold the head.
        RegisteredModel.objects.select_for_update().filter(pk=registered_model.pk).exists()
    return ledger.next_event_sequence()


def _files(version: ModelVersion) -> list[dict]:
    """The version's files (path, size, SHA-256) by path: as its lock read them (``file_list``, kept for a
    ready version only, whose files never change), else in one query."""
    rows = getattr(version, "file_list", None)
    if rows is None:
        # values(): model instances through the related manager would fetch each one's deferred
        # version_id to link it back to ``version``.
        rows = ArtifactFile.objects.filter(version_id=version.pk).values("path", "size", "sha256")
    return sorted(rows, key=lambda row: row["path"])


def _subscriptions(scope: Q):
    """Active subscriptions for every model (no scope) or within ``scope``."""
    return WebhookSubscription.objects.filter(
        Q(registered_model__isnull=True, team__isnull=True) | scope, active=True
    )


def subscriptions_column() -> Subquery:
    """For a RegisteredModel query: the active subscriptions its events go to (every model's, the model's,
    its team's) as one JSON array of ``{"id", "event_types"}``, null when there are none. The services'
    model lock reads it with the row, so a write's events need no query of their own to find them."""
    everything = (
        _subscriptions(Q(registered_model_id=OuterRef("pk")) | Q(team_id=OuterRef("team_id")))
        .order_by()
        .annotate(everything=Value(1))
        .values("everything")  # a constant: no GROUP BY, one array of them all
        .annotate(rows=JSONArrayAgg(JSONObject(id="id", event_types="event_types")))
        .values("rows")
    )
    return Subquery(everything, output_field=JSONField())


# Asked when the model was not locked with ``subscriptions_column`` (compiled once per process).
_SUBSCRIPTIONS_OF_MODEL = CompiledQuery(
    lambda model_id, team_id: _subscriptions(Q(registered_model_id=model_id) | Q(team_id=team_id)),
    model_id=9_007_199_254_740_881,
    team_id=2_147_480_017,
)


def _subscribed(registered_model: RegisteredModel | None) -> list[dict]:
    """The ``{"id", "event_types"}`` of the active subscriptions for events of ``registered_model``."""
    if registered_model is None:
        return list(_subscriptions(Q()).values("id", "event_types"))
    if hasattr(registered_model, "active_subscriptions"):  # read with the model's lock
        return registered_model.active_subscriptions or []
    found = _SUBSCRIPTIONS_OF_MODEL.run(model_id=registered_model.pk, team_id=registered_model.team_id)
    return [{"id": s.pk, "event_types": s.event_types} for s in found]


def _fan_out(event: Event, registered_model: RegisteredModel | None) -> int:
    """Queue a pending delivery for every active subscription that wants this event."""
    type_ = str(event.type)
    wanted = []
    for row in _subscribed(registered_model):
        types = row["event_types"]
        if isinstance(types, str):  # SQLite's JSON_OBJECT keeps a JSON column's value as its text
            types = json.loads(types)
        if subscription_wants(types, type_):
            wanted.append(row["id"])
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(event=event, subscription_id=pk, next_attempt_at=event.occurred_at) for pk in wanted]
    )
    return len(wanted)


def event_emit(
    *,
    type: EventType,
    actor=None,
    registered_model: RegisteredModel | None = None,
    version: ModelVersion | None = None,
    payload: dict | None = None,
    ledger_entry: LedgerEntry | None = None,
    occurred_at=None,
) -> Event:
    """Write one event to the outbox and queue its webhook deliveries, in the caller's transaction."""
    return _emit(
        type=type,
        actor=actor,
        registered_model=registered_model,
        version=version,
        payload=payload,
        ledger_entry=ledger_entry,
        occurred_at=occurred_at,
        sequence=None,
    )


def _emit(
    *, type, actor, registered_model, version, payload, ledger_entry, occurred_at, sequence: int | None
) -> Event:
    if registered_model is None and version is not None:
        registered_model = version.registered_model
    # Inside a service's transaction no savepoint is needed: a failure here fails the whole write
    # anyway. Alone (version.failed), this is the event's own transaction.
    with transaction.atomic(savepoint=False):
        event = _event_row(
            type=type,
            actor=actor,
            registered_model=registered_model,
            version=version,
            payload=payload,
            ledger_entry=ledger_entry,
            occurred_at=occurred_at,
            sequence=_next_sequence(registered_model, sequence=sequence),
        )
        event.save(force_insert=True)
        queued = _fan_out(event, registered_model)
    _log(event, queued)
    return event


def _event_row(
    *, type, actor, registered_model, version, payload, ledger_entry, occurred_at, sequence
) -> Event:
    """The unsaved event row, its data completed (a version's files where its type carries them)."""
    data = dict(payload or {})
    if version is not None and type in _WITH_FILES and "files" not in data:
        data["files"] = _files(version)
    event = Event(
        sequence=sequence,
        type=type,
        actor=actor,
        actor_username=actor.get_username() if actor is not None else "",
        registered_model=registered_model,
        version=version,
        ledger_entry=ledger_entry,
        request_id=current_request_id(),
        payload=data,
    )
    if occurred_at is not None:
        event.occurred_at = occurred_at
    return event


def _log(event: Event, queued: int) -> None:
    log.info(
        "event %s #%s model=%s version=%s deliveries=%s",
        event.type,
        event.sequence,
        event.registered_model.name if event.registered_model_id else None,
        event.version.version if event.version_id else None,
        queued,
    )


def _ledger_payload(row: LedgerEntry, type_: EventType) -> dict:
    data: dict = {"ledger_id": row.pk, "kind": str(row.kind)}
    if row.comment:
        data["comment"] = row.comment
    if row.from_stage or row.to_stage:
        data["from_stage"] = str(row.from_stage) or None
        data["to_stage"] = str(row.to_stage) or None
    if row.alias:
        data["alias"] = row.alias
    if row.transition_request_id:
        req = row.transition_request
        data["transition_request"] = {
            "id": req.pk,
            "target_stage": str(req.target_stage),
            "target": req.target,
            "kind": str(req.kind),
            "requested_by": req.requested_by.get_username(),
        }
    if type_ == EventType.TRANSITION_APPROVED and row.transition_request_id:
        approvals = (
            Approval.objects.filter(
                transition_request_id=row.transition_request_id, decision=Decision.APPROVE
            )
            .values("reviewer")
            .distinct()
            .count()
        )
        required = row.registered_model.required_approvals
        data.update(
            {"approvals": approvals, "required_approvals": required, "complete": approvals >= required}
        )
    if row.details:
        data.update({k: v for k, v in row.details.items() if k not in data})
    return data


def ledger_event_row(row: LedgerEntry, *, sequence: int) -> Event:
    """The unsaved event of a ledger row being appended, with the sequence its append reserved. The
    services' shared ``record`` has ``ledger.append`` insert it with the row (it holds the model's row
    lock and, through the append, the head's), then calls ``ledger_event_written``."""
    type_ = LEDGER_EVENT_TYPES.get(row.kind, EventType.MODEL_UPDATED)
    return _event_row(
        type=type_,
        actor=row.actor,
        registered_model=row.registered_model,
        version=row.version,
        payload=_ledger_payload(row, type_),
        ledger_entry=row,
        occurred_at=row.created_at,
        sequence=sequence,
    )


def ledger_event_written(event: Event, row: LedgerEntry) -> Event:
    """Queue the webhook deliveries and notifications of a ledger row's event just inserted."""
    _log(event, _fan_out(event, row.registered_model))
    notifications_queue(event, row)
    return event


def version_failed_emit(
    *, registered_model: RegisteredModel, actor, reason: str, code: str, files: list[str]
):
    """Record that a registration failed after its upload began; never raises (the caller is failing)."""
    try:
        with transaction.atomic():
            return event_emit(
                type=EventType.VERSION_FAILED,
                actor=actor,
                registered_model=registered_model,
                payload={"reason": reason[:2000], "code": code, "files": files[:100]},
            )
    except Exception:
        log.exception("could not record version.failed for %s", registered_model.name)
        return None


def event_body(event: Event) -> dict:
    """The JSON shape of an event, in the feed and as the webhook body (Standard Webhooks' type/timestamp/data)."""
    model = event.registered_model
    version = event.version
    return {
        "id": str(event.id),
        "type": str(event.type),
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "cursor": str(event.sequence),
        "actor": event.actor_username or None,
        "model": model.name if model else None,
        "version": version.version if version else None,
        "request_id": event.request_id or None,
        "data": event.payload,
    }
