"""Seed a large registry database directly in SQL, for reading at scale (bench/README.md, "1,000,000").

    cd /path/to/registry && DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_million \\
        DJANGO_SECRET_KEY=... .venv/bin/python /path/to/bench/seed_million.py --models 1000 --per-model 1000

Run from the server's checkout with the server's environment, on a migrated database (``manage.py
migrate``). It creates the team ``cmp-team`` with its publisher ``cmp-publisher`` (the names
bench/seed_compare.py uses, so bench/compare_mlflow.py reads the first ``--models`` of these models
beside an MLflow seeded as usual), then ``--models`` models ``cmp-000`` ... with ``--per-model`` ready
versions each, one 1 KiB file record per version (no bytes are stored: reads never open them), the
middle version in Production and the alias ``champion`` on the one before it, all with
``INSERT ... SELECT generate_series`` (about a minute per million versions here), then ``ANALYZE``.
Every column gets the value the model's own default gives, so the rows look like registered ones; the
ledger holds no rows for them (the seeded versions have no history, which reads never show). Bounded:
one statement per table, each of a known size. Refuses to run on a database that holds models already.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")

import django

django.setup()

from django.contrib.auth.models import Group, Permission, User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import ForeignKey  # noqa: E402
from django.utils import timezone  # noqa: E402

from models_app.models import ArtifactFile, ModelAlias, ModelVersion, RegisteredModel  # noqa: E402
from models_app.role_permissions import ensure_role_groups  # noqa: E402

PREFIX, TEAM, PUBLISHER = "cmp", "cmp-team", "cmp-publisher"


def _defaults(model, given: dict[str, str]) -> tuple[list[str], list[str], list]:
    """Columns, SQL expressions and parameters for an INSERT ... SELECT of ``model``: ``given`` maps a
    field name to an SQL expression (over the series ``n`` and the joined rows); every other concrete
    field takes its model default as a parameter."""
    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.name not in given:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name in given:
            expressions.append(given[field.name])
            continue
        if field.has_default():
            value = field.get_default()
        elif field.null:
            value = None
        elif field.blank and not isinstance(field, ForeignKey):
            value = ""
        else:
            raise SystemExit(f"{model.__name__}.{field.name} needs a value")
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = timezone.now()
        expressions.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    return columns, expressions, params


def _insert(model, given: dict[str, str], source: str, source_params: list) -> int:
    columns, expressions, params = _defaults(model, given)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + source_params)
        return cursor.rowcount


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--per-model", type=int, default=1000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("seed_million.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    if RegisteredModel.objects.exists():
        raise SystemExit("the database holds models already; seed an empty, migrated one")
    started = time.monotonic()
    ensure_role_groups(Group, Permission)
    team, _ = Group.objects.get_or_create(name=TEAM)
    publisher, _ = User.objects.get_or_create(username=PUBLISHER)
    publisher.groups.add(Group.objects.get(name="Publishers"), team)
    production = args.per_model // 2 + 1
    now = timezone.now()
    with transaction.atomic():
        made = _insert(
            RegisteredModel,
            {
                "name": f"'{PREFIX}-' || lpad(n::text, 3, '0')",
                "team": str(int(team.pk)),
                "created_by": str(int(publisher.pk)),
                "last_version_number": str(int(args.per_model)),
            },
            "FROM generate_series(0, %s - 1) AS n",
            [args.models],
        )
        print(f"models: {made}", flush=True)
        made = _insert(
            ModelVersion,
            {
                "registered_model": "m.id",
                "version": "v",
                "status": "'ready'",
                "stage": f"CASE WHEN v = {production} THEN 'production' ELSE 'none' END",
                "created_by": str(int(publisher.pk)),
                "metrics": """jsonb_build_object('accuracy', 0.8 + (v %% 100) / 1000.0)""",
            },
            f"FROM {RegisteredModel._meta.db_table} m CROSS JOIN generate_series(1, %s) AS v "
            "WHERE m.name LIKE %s",
            [args.per_model, f"{PREFIX}-%"],
        )
        print(f"versions: {made} ({time.monotonic() - started:.0f} s)", flush=True)
        made = _insert(
            ArtifactFile,
            {
                "version": "mv.id",
                "path": "'model.bin'",
                "size": "1024",
                "sha256": "encode(sha256(mv.id::text::bytea), 'hex')",
                "storage_key": "'seeded/' || mv.id::text || '/model.bin'",
            },
            f"FROM {ModelVersion._meta.db_table} mv",
            [],
        )
        print(f"file records: {made} ({time.monotonic() - started:.0f} s)", flush=True)
        made = _insert(
            ModelAlias,
            {
                "registered_model": "mv.registered_model_id",
                "name": "'champion'",
                "version": "mv.id",
                "updated_by": str(int(publisher.pk)),
            },
            f"FROM {ModelVersion._meta.db_table} mv WHERE mv.version = %s",
            [max(1, production - 1)],
        )
        print(f"aliases: {made}", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"done in {time.monotonic() - started:.0f} s at {now:%Y-%m-%d %H:%M} UTC; now issue a token:")
    print(f"  TOKEN=$(.venv/bin/python manage.py create_api_token {PUBLISHER} --name million)")


if __name__ == "__main__":
    main()
