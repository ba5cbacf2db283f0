"""The ledger's hash chain: how a row's hash is computed, appended and verified."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from models_app.models import LedgerHead, StageTransition

GENESIS_HASH = "0" * 64


def row_payload(row: StageTransition) -> dict:
    """The content of a ledger row that its hash covers (everything but its own id and hash)."""
    return {
        "registered_model": row.registered_model_id,
        "version": row.version_id,
        "kind": str(row.kind),
        "from_stage": str(row.from_stage),
        "to_stage": str(row.to_stage),
        "alias": row.alias,
        "actor": row.actor_id,
        "actor_username": row.actor_username,
        "transition_request": row.transition_request_id,
        "comment": row.comment,
        "details": row.details,
        "request_id": row.request_id,
        "created_at": row.created_at.isoformat(timespec="microseconds"),
        "prev_hash": row.prev_hash,
    }


def compute_hash(row: StageTransition) -> str:
    canonical = json.dumps(row_payload(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_head() -> LedgerHead:
    head = LedgerHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # The migration creates the head; a flushed test database may not have it. The savepoint keeps
        # a concurrent creator's IntegrityError from aborting the caller's transaction.
        with contextlib.suppress(IntegrityError), transaction.atomic():
            LedgerHead.objects.create(pk=1)
        head = LedgerHead.objects.select_for_update().get(pk=1)
    return head


def append(row: StageTransition) -> StageTransition:
    """Chain ``row`` onto the ledger and insert it. Must run inside the caller's transaction."""
    head = _lock_head()
    row.prev_hash = head.last_hash
    row.row_hash = compute_hash(row)
    row.save(force_insert=True)
    LedgerHead.objects.filter(pk=1).update(last_hash=row.row_hash, count=head.count + 1)
    return row


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the chain: ok, rows checked, and the first broken row if any."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""


def verify_chain(*, batch_size: int = 2000) -> ChainReport:
    """Walk every ledger row in order; report the first one altered, inserted or removed."""
    prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = list(StageTransition.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not rows:
            break
        for row in rows:
            checked += 1
            if row.prev_hash != prev:
                return ChainReport(
                    False,
                    checked,
                    row.id,
                    f"row {row.id} does not follow the previous row (a row was inserted or removed before it)",
                )
            if compute_hash(row) != row.row_hash:
                return ChainReport(False, checked, row.id, f"row {row.id} was altered after it was written")
            prev = row.row_hash
            last_id = row.id
    head = LedgerHead.objects.filter(pk=1).first()
    if head is not None and head.last_hash != prev:
        return ChainReport(False, checked, None, "the newest rows were removed: the chain ends early")
    return ChainReport(True, checked)
