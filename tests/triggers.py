"""Switching a table's triggers off for a moment, as only a database superuser could.

``ALTER TABLE ... DISABLE TRIGGER`` rather than ``pgtrigger.ignore``: that one prefixes every statement
with a second command, which PostgreSQL refuses in a prepared statement (the registry binds parameters
on the server, settings.DATABASE_PREPARE_THRESHOLD)."""

from __future__ import annotations

import contextlib

from django.db import connections


@contextlib.contextmanager
def triggers_off(table: str, using: str = "default"):
    """The user triggers of ``table`` are off inside the block (PostgreSQL; elsewhere nothing changes)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        # ALTER TABLE waits for no deferred foreign-key check: run the pending ones now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {quoted} DISABLE TRIGGER USER")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {quoted} ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
