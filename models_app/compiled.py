"""Querysets compiled to SQL once per process, for the statements on the hot paths.

Django turns a queryset into SQL each time it is evaluated. For the version read (four JSON sub-selects,
five joined tables) that compilation costs several times what the database needs to answer it. A
``CompiledQuery`` builds its queryset once per database with placeholder values, keeps the SQL and
where each placeholder sits among its parameters, and then runs that SQL with each call's values. The
rows go through Django's own ``ModelIterable``, so the instances (joined relations, annotations,
converters) are exactly those the queryset itself would give; tests/test_compiled.py compares
the two for every shape that uses it.

Only values passed as query parameters can be placeholders. ``LIMIT``/``OFFSET`` are part of the SQL
text: a ``sliced`` query is compiled with a stand-in slice whose text is replaced by each call's
(whole numbers, formatted here, never text from the caller).

``insert_led_by`` is the write side (PostgreSQL): Django's own INSERTs of the new rows of one write,
with the statement that must accompany them (a counter or head that moves with the rows) as
data-modifying ``WITH`` queries of one statement, so they cost one round trip.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from itertools import groupby
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet, sql
from django.db.models.query import ModelIterable
from django.db.transaction import TransactionManagementError


class _Evaluated:
    """What ``ModelIterable`` reads of a queryset, around a compiler that already holds its SQL."""

    def __init__(self, model, using: str, compiler):
        self.model, self.db, self._compiler = model, using, compiler
        self.query = self
        self._known_related_objects: dict = {}

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        return self._compiler


class CompiledQuery:
    """``build(**placeholders)`` compiled once per database; ``run(**values)`` evaluates it with values.

    ``placeholders`` maps each parameter name to a value of the right type that cannot otherwise occur
    in the query's parameters; compiling checks that each one appears and is not changed on the way.
    """

    # The stand-in slice of a ``sliced`` query: numbers no real page uses.
    _OFFSET, _LIMIT = 271_828_183, 314_159_265

    def __init__(self, build: Callable[..., QuerySet], *, sliced: bool = False, **placeholders: Any):
        self._build = build
        self._sliced = sliced
        self._placeholders = placeholders
        self._by_database: dict[
            tuple[str, str], tuple[Any, str, tuple, tuple[tuple[int, str, type], ...], dict]
        ] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str):
        queryset = self._build(**self._placeholders)
        if self._sliced:
            queryset = queryset[self._OFFSET : self._OFFSET + self._LIMIT]
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        if self._sliced and sql.count(self._slice_text(self._OFFSET, self._LIMIT)) != 1:
            raise ValueError("The stand-in slice is not in the compiled SQL.")
        # A backend may wrap a parameter in a type of its own (psycopg's Int4 for an integer column, with
        # server-side binding): the value bound later is wrapped the same way, so the statement keeps its
        # parameter types and stays one prepared statement.
        slots = tuple(
            (index, name, type(param))
            for index, param in enumerate(params)
            for name, placeholder in self._placeholders.items()
            if isinstance(param, type(placeholder)) and param == placeholder
        )
        missing = set(self._placeholders) - {name for _, name, _ in slots}
        if missing:
            raise ValueError(
                f"Placeholders not found among the compiled query's parameters: {sorted(missing)}"
            )
        # The converters of the selected columns (JSON decoding, backend conversions) depend only on
        # the query and the backend: found once, not on every evaluation.
        converters = compiler.get_converters([col[0] for col in compiler.select[0 : compiler.col_count]])
        return compiler, sql, tuple(params), slots, converters

    @staticmethod
    def _slice_text(offset: int, limit: int) -> str:
        return f"LIMIT {limit} OFFSET {offset}"

    def run(
        self, using: str = "default", *, offset: int = 0, limit: int | None = None, **values: Any
    ) -> list[Model]:
        """The queryset's rows for these values (every placeholder given), as model instances; a
        ``sliced`` query takes ``limit`` rows from ``offset``."""
        connection = connections[using]
        key = (using, connection.vendor)
        compiled = self._by_database.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._by_database.get(key) or self._by_database.setdefault(
                    key, self._compile(using)
                )
        template, sql, params, slots, converters = compiled
        if template.query.select_for_update and connection.get_autocommit():
            # What Django's compiler checks on every evaluation, and a reused one no longer compiles.
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        if self._sliced:
            if limit is None or limit < 1 or offset < 0:
                raise ValueError("A sliced query needs a positive limit and an offset of 0 or more.")
            sql = sql.replace(
                self._slice_text(self._OFFSET, self._LIMIT), self._slice_text(int(offset), int(limit))
            )
        bound = list(params)
        for index, name, wrap in slots:
            bound[index] = wrap(values[name])
        bound_params = tuple(bound)
        # A shallow copy shares the template's select list and converters (read-only once compiled) and
        # uses this thread's connection; its SQL is the compiled text with this call's parameters.
        compiler = copy.copy(template)
        compiler.connection = connection
        compiler.using = using
        compiler.as_sql = lambda *args, **kwargs: (sql, bound_params)
        compiler.get_converters = lambda expressions: converters
        return list(ModelIterable(_Evaluated(template.query.model, using, compiler)))


def insert_led_by(
    row: Model,
    lead: str,
    lead_params: list,
    *,
    also: Sequence[Model] = (),
    updating: Sequence[tuple[Model, Sequence[str]]] = (),
    using: str = "default",
) -> None:
    """Insert the unsaved ``row`` and the unsaved rows in ``also`` (their fields' values prepared as
    ``save`` prepares them) in one PostgreSQL statement after ``lead``, a data-modifying statement that
    runs as the ``WITH`` query named ``lead``. Each run of rows of one model is one INSERT, in the order
    given; a row that refers to another of the statement's rows has that row's primary key set already
    (foreign keys are checked at commit). ``updating``: saved rows whose named fields the same statement
    updates (as ``save(update_fields=...)`` would; rows the caller has locked, so each is found). Sets
    each inserted row's primary key. ``lead`` is the caller's SQL text, never values: those go in
    ``lead_params``."""
    connection = connections[using]
    groups = [list(run) for _, run in groupby([row, *also], key=type)]
    queries, params, answers = [f"lead AS ({lead})"], list(lead_params), []
    for index, (saved, names) in enumerate(updating):
        update, update_params = _update_sql(saved, names, connection)
        queries.append(f"u{index} AS ({update})")
        params += update_params
    for index, rows in enumerate(groups):
        insert, insert_params = _insert_sql(rows, connection)
        queries.append(f"i{index} AS ({insert})")
        params += insert_params
        pk = connection.ops.quote_name(rows[0]._meta.pk.column)
        # Keys the database numbers follow the order given, so sorted they match the rows.
        answers.append(f"(SELECT array_agg({pk} ORDER BY {pk}) FROM i{index})")  # noqa: S608 (a quoted column)
    statement = f"WITH {', '.join(queries)} SELECT {', '.join(answers)}"
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        answer = cursor.fetchone()
    for rows, keys in zip(groups, answer, strict=True):
        numbered = rows[0].pk is None  # rows given their keys keep them
        for inserted, key in zip(rows, keys, strict=True):
            if numbered:
                inserted.pk = key
            inserted._state.adding, inserted._state.db = False, using


def _update_sql(saved: Model, names: Sequence[str], connection) -> tuple[str, list]:
    """Django's own UPDATE of the named fields of one saved row, by its primary key."""
    meta = saved._meta
    query = sql.UpdateQuery(type(saved))
    query.add_update_fields(
        [(field, None, field.pre_save(saved, False)) for field in map(meta.get_field, names)]
    )
    query.add_filter("pk", saved.pk)
    update, params = query.get_compiler(connection=connection).as_sql()
    return update, list(params)


def _insert_sql(rows: list[Model], connection) -> tuple[str, list]:
    """Django's own INSERT of ``rows`` (one model; every primary key set, or none) returning their keys."""
    meta = rows[0]._meta
    keyed = {r.pk is not None for r in rows}
    if len(keyed) != 1:
        raise ValueError("Rows inserted together have every primary key set or none.")
    # The fields Django's own save inserts: a primary key only when the rows have one, no generated column.
    fields = [
        f for f in meta.local_concrete_fields if not f.generated and (keyed == {True} or f is not meta.pk)
    ]
    query = sql.InsertQuery(type(rows[0]))
    query.insert_values(fields, rows)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.pk]
    [(insert, params)] = compiler.as_sql()
    return insert, list(params)
