"""The ledger's hash chain: how a row's hash is computed, appended and verified."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Model
from django.db.models.expressions import RawSQL

from models_app.compiled import CompiledQuery, insert_led_by
from models_app.exceptions import AppendOnlyViolation
from models_app.models import LedgerEntry, LedgerHead

GENESIS_HASH = "0" * 64


def row_payload(row: LedgerEntry) -> dict:
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


def compute_hash(row: LedgerEntry) -> str:
    canonical = json.dumps(row_payload(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_HEAD = CompiledQuery(lambda: LedgerHead.objects.select_for_update().filter(pk=1))
# PostgreSQL: the head with the id of the ledger row about to be appended, taken under the head's lock
# (so ids follow the chain's order), which lets the row's event refer to it in the row's own statement.
_HEAD_AND_NEXT_ID = CompiledQuery(
    lambda: (
        LedgerHead.objects.select_for_update()
        .annotate(
            next_entry_id=RawSQL(
                "nextval(pg_get_serial_sequence(%s, 'id'))",
                (LedgerEntry._meta.db_table,),
                output_field=BigIntegerField(),
            )
        )
        .filter(pk=1)
    )
)


def _lock_head(*, next_id: bool = False) -> LedgerHead:
    shape = _HEAD_AND_NEXT_ID if next_id else _HEAD
    found = shape.run()  # compiled once per process: every write takes it
    if not found:
        # The migration creates the head; a flushed test database may not have it. The savepoint keeps
        # a concurrent creator's IntegrityError from aborting the caller's transaction.
        with contextlib.suppress(IntegrityError), transaction.atomic():
            LedgerHead.objects.create(pk=1)
        found = shape.run()
    return found[0]


def append(
    row: LedgerEntry,
    *,
    with_rows: Callable[[int], Sequence[Model]] | None = None,
    updating: Sequence[tuple[Model, Sequence[str]]] = (),
) -> int:
    """Chain ``row`` onto the ledger and insert it; return the event sequence reserved for its event (the
    head moves its tip and that sequence with the insert). ``with_rows(sequence)`` gives the unsaved rows
    the same write adds with it (the row's event, which may refer to the row: its id is set first): on
    PostgreSQL one statement moves the head and inserts them all. ``updating``: the write's changes to
    rows it holds locked, ``(row, field names)``, made first (on PostgreSQL by the same statement). Must
    run inside the caller's transaction, which then holds the head's lock until it commits."""
    if not row._state.adding:
        raise AppendOnlyViolation()  # what the row's own save says: a ledger row is written once
    postgresql = connection.vendor == "postgresql"
    if not postgresql:
        for saved, names in updating:
            saved.save(update_fields=names)
    head = _lock_head(next_id=postgresql)
    row.prev_hash = head.last_hash
    row.row_hash = compute_hash(row)
    sequence = head.last_event_sequence + 1
    if postgresql:
        row.pk = head.next_entry_id
        _insert_moving_head(row, sequence, list(with_rows(sequence)) if with_rows else [], updating)
        return sequence
    row.save(force_insert=True)
    for _, rows in groupby(with_rows(sequence) if with_rows else [], key=type):
        rows = list(rows)
        type(rows[0]).objects.bulk_create(rows)
    LedgerHead.objects.filter(pk=1).update(
        last_hash=row.row_hash, count=head.count + 1, last_event_sequence=sequence
    )
    return sequence


def _insert_moving_head(
    row: LedgerEntry, sequence: int, more: list[Model], updating: Sequence[tuple[Model, Sequence[str]]]
) -> None:
    # One statement instead of several while every other write waits for the head.
    head = connection.ops.quote_name(LedgerHead._meta.db_table)
    insert_led_by(
        row,
        f"UPDATE {head} SET last_hash = %s, count = count + 1, "  # noqa: S608 (a quoted table name)
        "last_event_sequence = %s WHERE id = 1",
        [row.row_hash, sequence],
        also=more,
        updating=updating,
    )


def next_event_sequence() -> int:
    """The next event sequence, for an event without a ledger row. Locks the head until commit."""
    head = _lock_head()
    sequence = head.last_event_sequence + 1
    LedgerHead.objects.filter(pk=1).update(last_event_sequence=sequence)
    return sequence


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the chain: ok, rows checked, and the first broken row if any.

    ``kind`` says what happened at ``first_bad_id``: ``altered`` (its content no longer matches its hash),
    ``inserted`` (it was slipped into the chain), ``removed`` (one or more rows before it are gone) or
    ``truncated`` (the newest rows are gone; ``first_bad_id`` is then None). Compared with a signed
    checkpoint (``models_app.audit_anchor``): ``rewound`` (the database holds less than, or something
    other than, what the checkpoint covered) or ``anchor_invalid`` (the newest checkpoint's signature
    does not verify); ``anchor`` then describes the comparison.

    ``mark_hash``/``mark_id``: the hash and id of the row at position ``mark`` of the walk, if asked.
    """

    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""
    kind: str = ""
    anchor: Any = None
    mark_hash: str | None = field(default=None, compare=False, repr=False)
    mark_id: int | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_id": self.first_bad_id,
            "kind": self.kind,
            "problem": self.problem,
            "anchor": self.anchor.as_dict() if self.anchor is not None else None,
        }


def _rows_in_order(batch_size: int):
    last_id = 0
    while True:
        rows = list(LedgerEntry.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def _walk(batch_size: int, mark: int | None = None) -> ChainReport:
    marked: list = [None, None]
    report = _walk_chain(batch_size, mark, marked)
    return replace(report, mark_hash=marked[0], mark_id=marked[1]) if mark else report


def _walk_chain(batch_size: int, mark: int | None, marked: list) -> ChainReport:
    head = LedgerHead.objects.filter(pk=1).first()
    head_hash = head.last_hash if head is not None else GENESIS_HASH
    head_count = head.count if head is not None else 0
    prev, prev_id, checked = GENESIS_HASH, None, 0
    rows = _rows_in_order(batch_size)
    row = next(rows, None)
    while row is not None:
        following = next(rows, None)
        checked += 1
        if checked == mark:
            marked[:] = [row.row_hash, row.id]
        after = f"row {prev_id}" if prev_id is not None else "the start of the ledger"
        if row.prev_hash != prev:
            # The chain skips this row and carries on from the previous one: the row was slipped in.
            skipped = (following is not None and following.prev_hash == prev) or (
                following is None and head_hash == prev
            )
            if skipped:
                return ChainReport(
                    False,
                    checked,
                    row.id,
                    f"row {row.id} was inserted: it does not follow {after}.",
                    "inserted",
                )
            return ChainReport(
                False,
                checked,
                row.id,
                f"row {row.id} does not follow {after}: a row between them was removed "
                f"(or {after} was rewritten together with its hash).",
                "removed",
            )
        if compute_hash(row) != row.row_hash:
            return ChainReport(
                False, checked, row.id, f"row {row.id} was altered after it was written.", "altered"
            )
        if row.row_hash == head_hash and following is not None:
            # Rows past the recorded head were appended around the ledger, not through it.
            return ChainReport(
                False,
                checked + 1,
                following.id,
                f"row {following.id} was inserted after the ledger's recorded end (row {row.id}).",
                "inserted",
            )
        prev, prev_id = row.row_hash, row.id
        row = following
    if head_hash != prev or head_count > checked:
        missing = max(head_count - checked, 1)
        return ChainReport(
            False,
            checked,
            None,
            f"the newest {missing} row(s) were removed: the chain ends early, after "
            f"{f'row {prev_id}' if prev_id is not None else 'no rows'}.",
            "truncated",
        )
    return ChainReport(True, checked)


@contextlib.contextmanager
def snapshot():
    """One consistent read of the ledger: on PostgreSQL a REPEATABLE READ, READ ONLY transaction, so rows
    appended meanwhile are not seen; inside an outer transaction the caller's snapshot is used."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def verify_chain(*, batch_size: int = 2000, mark: int | None = None) -> ChainReport:
    """Walk every ledger row in order; report the first one altered, inserted or removed.

    With ``mark``, the report also carries the hash and id of the row at that position (1-based), which
    is how a checkpoint's head is compared. The walk reads one snapshot (``snapshot``).
    """
    with snapshot():
        return _walk(batch_size, mark)


@dataclass(frozen=True)
class Extension:
    """Whether the ledger still starts with ``count`` rows ending in ``head_hash`` and carries on from
    there intact, and where it ends now."""

    ok: bool
    problem: str
    count: int
    head_hash: str
    head_id: int | None


def chain_extends(*, count: int, head_hash: str, batch_size: int = 2000) -> Extension:
    """Check that the ledger extends a checkpoint of ``count`` rows ending in ``head_hash``: the row at
    position ``count`` is that row, every row after it links and hashes correctly, and the recorded
    head is where they end. Reads only the rows after the checkpoint (one snapshot; call inside it)."""
    head = LedgerHead.objects.filter(pk=1).first()
    head_count = head.count if head is not None else 0
    now_hash = head.last_hash if head is not None else GENESIS_HASH
    if count:
        found = list(LedgerEntry.objects.order_by("id").values_list("id", "row_hash")[count - 1 : count])
        at = found[0] if found else None
        if at is None:
            return Extension(False, f"the ledger holds fewer than {count} rows", head_count, now_hash, None)
        last_id, prev = at
        if prev != head_hash:
            return Extension(
                False,
                f"row {last_id}, at position {count}, is not the row that was there",
                head_count,
                now_hash,
                None,
            )
    else:
        last_id, prev = 0, GENESIS_HASH
    walked = count
    head_id = last_id or None
    while True:
        rows = list(LedgerEntry.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not rows:
            break
        for row in rows:
            if row.prev_hash != prev or compute_hash(row) != row.row_hash:
                return Extension(False, f"row {row.id} does not follow on intact", head_count, now_hash, None)
            prev, walked, head_id = row.row_hash, walked + 1, row.id
        last_id = rows[-1].id
    if prev != now_hash or walked != head_count:
        return Extension(
            False,
            f"the recorded head ({head_count} rows) is not where the rows end ({walked})",
            head_count,
            now_hash,
            None,
        )
    return Extension(True, "", walked, prev, head_id)
