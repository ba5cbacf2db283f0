"""What an attacker with direct database access would do to the ledger (the trigger switched off)."""

from __future__ import annotations

import contextlib

from django.db import connection

from models_app.ledger import compute_hash
from models_app.models import LedgerEntry, LedgerHead
from models_app.models.pipeline import Event
from tests.triggers import triggers_off

TABLE = LedgerEntry._meta.db_table


@contextlib.contextmanager
def superpowers():
    """On PostgreSQL the append-only trigger refuses UPDATE/DELETE; an attacker with DB superuser rights
    could switch it off, as this does. On SQLite raw SQL goes straight through."""
    with triggers_off(TABLE):
        yield


def rewrite_comment(row_id: int, text: str) -> None:
    with superpowers(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET comment = %s WHERE id = %s", [text, row_id])


def rewrite_comment_and_hash(row_id: int, text: str) -> None:
    """A cleverer attacker: recompute the altered row's own hash so it verifies on its own."""
    row = LedgerEntry.objects.get(pk=row_id)
    row.comment = text
    new_hash = compute_hash(row)
    with superpowers(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET comment = %s, row_hash = %s WHERE id = %s", [text, new_hash, row_id]
        )


def delete_row(row_id: int) -> None:
    """Remove a ledger row, first unhooking the event that points at it (as a thorough attacker would)."""
    events = Event._meta.db_table
    with superpowers(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {events} SET ledger_entry_id = NULL WHERE ledger_entry_id = %s", [row_id])
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [row_id])


def insert_copy(source_id: int, *, prev_hash: str | None = None, valid_hash: bool = False) -> int:
    """Insert a copy of a row with a new id: with a made-up link by default, or chained and hashed
    correctly onto ``prev_hash`` (what a forger who knows the scheme would write)."""
    row = LedgerEntry.objects.get(pk=source_id)
    row.pk = None
    row._state.adding = True
    row.comment = "forged approval"
    row.prev_hash = prev_hash or "f" * 64
    row.row_hash = compute_hash(row) if valid_hash else "e" * 64
    row.save(force_insert=True)
    return row.pk


def rewind(rows: int) -> None:
    """Remove the newest ``rows`` ledger rows and set the head back onto the last one left: what leaves an
    intact, shorter chain behind (the events pointing at the rows are unhooked first)."""
    newest = list(LedgerEntry.objects.order_by("-id").values_list("id", flat=True)[:rows])
    for row_id in newest:
        delete_row(row_id)
    last = LedgerEntry.objects.order_by("-id").first()
    head_hash = last.row_hash if last is not None else "0" * 64
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {LedgerHead._meta.db_table} SET last_hash = %s, count = %s WHERE id = 1",
            [head_hash, LedgerEntry.objects.count()],
        )


def rebuild_after(position: int, comment: str) -> None:
    """Rewrite the row at ``position`` (1-based) and re-chain every row after it with valid hashes: the
    same number of rows, every link and hash correct, but not the rows that were there."""
    rows = list(LedgerEntry.objects.order_by("id"))
    prev = rows[position - 2].row_hash if position > 1 else "0" * 64
    with superpowers(), connection.cursor() as cursor:
        for index, row in enumerate(rows[position - 1 :]):
            if index == 0:
                row.comment = comment
            row.prev_hash = prev
            row.row_hash = compute_hash(row)
            cursor.execute(
                f"UPDATE {TABLE} SET comment = %s, prev_hash = %s, row_hash = %s WHERE id = %s",
                [row.comment, row.prev_hash, row.row_hash, row.id],
            )
            prev = row.row_hash
        cursor.execute(f"UPDATE {LedgerHead._meta.db_table} SET last_hash = %s WHERE id = 1", [prev])
