"""What a write reads besides its locks: the model's lock brings the webhook subscriptions its events go
to, the version's lock its files and whether a stage request is open, and on PostgreSQL the ledger row, its
event and a registration's files are inserted by the statement that moves the chain's head. The outcomes
stay those of the separate queries."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from models_app import ledger, services
from models_app.choices import LedgerKind, RequestStatus, VersionStatus
from models_app.compiled import insert_led_by
from models_app.models import ArtifactFile, Event, LedgerEntry, LedgerHead, WebhookDelivery
from models_app.services._shared import lock_model, refresh_version
from tests.conftest import register

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _public_webhook_targets(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


def _tables(queries) -> set[str]:
    """The tables that statements of their own read (the lock statements' subqueries do not count)."""
    main = (re.match(r'SELECT (?:DISTINCT )?"models_app_(\w+)"\.', query["sql"]) for query in queries)
    return {m[1] for m in main if m} & {"artifactfile", "webhooksubscription", "transitionrequest"}


def _subscribe(actor, **scope):
    subscription, _ = services.webhook_subscription_create(
        url="http://127.0.0.1:9/hook", actor=actor, **scope
    )
    return subscription


def test_a_stage_move_finds_its_event_subscriptions_and_files_in_its_locks(
    registered_model, team, publisher, governance
):
    version = register(registered_model, publisher, files={"b.bin": b"b", "a/c.bin": b"c", "A.bin": b"A"})
    everything = _subscribe(governance)
    the_model = _subscribe(governance, registered_model=registered_model, event_types=["stage.changed"])
    registrations_only = _subscribe(governance, team=team, event_types=["version.registered"])
    inactive = _subscribe(governance)
    services.webhook_subscription_update(subscription=inactive, actor=governance, active=False)

    with CaptureQueriesContext(connection) as ctx:
        services.version_transition(version=version, to="staging", actor=publisher)

    assert _tables(ctx.captured_queries) == set()  # no query of their own for subscriptions, files, requests
    event = Event.objects.get(type="stage.changed", version=version)
    assert [f["path"] for f in event.payload["files"]] == ["A.bin", "a/c.bin", "b.bin"]
    assert {f["path"]: f["size"] for f in event.payload["files"]} == {"A.bin": 1, "a/c.bin": 1, "b.bin": 1}
    assert set(WebhookDelivery.objects.filter(event=event).values_list("subscription_id", flat=True)) == {
        everything.pk,
        the_model.pk,
    }
    registered = Event.objects.get(type="version.registered", version=version)
    assert WebhookDelivery.objects.filter(event=registered).count() == 0  # subscribed after it
    assert registrations_only.deliveries.count() == 0


def test_leaving_staging_still_cancels_the_open_promotion_request(registered_model, publisher):
    version = register(registered_model, publisher)
    services.version_transition(version=version, to="staging", actor=publisher)
    request = services.transition_request_create(version=version, to="production", actor=publisher)

    with CaptureQueriesContext(connection) as ctx:
        services.version_transition(version=version, to="none", actor=publisher)

    assert "transitionrequest" in _tables(ctx.captured_queries)  # the lock found one open: it is closed
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED
    assert list(LedgerEntry.objects.filter(version=version).values_list("kind", flat=True).order_by("id"))[
        -2:
    ] == [
        LedgerKind.DIRECT,
        LedgerKind.CANCELLATION,
    ]


def test_a_pending_version_reads_its_files_when_its_event_is_written(registered_model, publisher):
    """A version whose files are still arriving (a direct upload) keeps no file list from its lock."""
    version = register(registered_model, publisher, files={"m.bin": b"m"})
    version.status = VersionStatus.PENDING
    version.save(update_fields=["status"])
    with transaction.atomic():
        fresh = refresh_version(version, lock_model(registered_model.pk))
        assert not hasattr(fresh, "file_list")
    version.status = VersionStatus.READY
    version.save(update_fields=["status"])
    with transaction.atomic():
        fresh = refresh_version(version, lock_model(registered_model.pk))
        assert fresh.file_list == [{"path": "m.bin", "size": 1, "sha256": fresh.files.get().sha256}]


def test_the_head_moves_with_every_ledger_row_and_the_chain_verifies(registered_model, publisher):
    before = LedgerHead.objects.get(pk=1)
    versions = [register(registered_model, publisher) for _ in range(3)]
    services.version_transition(version=versions[0], to="staging", actor=publisher)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=2, actor=publisher)

    head = LedgerHead.objects.get(pk=1)
    rows = list(LedgerEntry.objects.order_by("id"))
    assert head.count == before.count + 5 and head.last_hash == rows[-1].row_hash
    assert [row.prev_hash for row in rows[1:]] == [row.row_hash for row in rows[:-1]]
    # The event of each row has the sequence the head handed out with it, in the rows' order.
    sequences = [Event.objects.get(ledger_entry=row).sequence for row in rows[-5:]]
    assert sequences == list(range(head.last_event_sequence - 4, head.last_event_sequence + 1))
    assert ledger.verify_chain().ok


@pytest.mark.postgres
def test_on_postgresql_the_row_is_inserted_by_the_statement_that_moves_the_head(
    postgres_only, registered_model, publisher
):
    version = register(registered_model, publisher)
    with CaptureQueriesContext(connection) as ctx:
        services.version_transition(version=version, to="staging", actor=publisher)
    head = [q["sql"] for q in ctx.captured_queries if '"models_app_ledgerhead"' in q["sql"]]
    assert len(head) == 2 and head[0].startswith("SELECT") and head[1].startswith("WITH lead AS (UPDATE")
    # The version's stage changes in that statement too, not in one of its own.
    assert 'UPDATE "models_app_modelversion" SET "stage"' in head[1]
    assert not any(q["sql"].startswith('UPDATE "models_app_modelversion"') for q in ctx.captured_queries)
    version.refresh_from_db()
    assert version.stage == "staging"
    row = LedgerEntry.objects.get(version=version, kind=LedgerKind.DIRECT)
    assert LedgerHead.objects.get(pk=1).last_hash == row.row_hash == ledger.compute_hash(row)
    assert Event.objects.get(ledger_entry=row).sequence == LedgerHead.objects.get(pk=1).last_event_sequence
    assert ledger.verify_chain().ok


@pytest.mark.postgres
def test_on_postgresql_a_registration_moves_the_model_counter_in_the_statement_that_inserts_it(
    postgres_only, registered_model, publisher
):
    register(registered_model, publisher)
    with CaptureQueriesContext(connection) as ctx:
        version = register(registered_model, publisher, files={"b.bin": b"b"})
    inserts = [q["sql"] for q in ctx.captured_queries if 'INSERT INTO "models_app_modelversion"' in q["sql"]]
    assert len(inserts) == 1 and inserts[0].startswith('WITH lead AS (UPDATE "models_app_registeredmodel"')
    assert not any(q["sql"].startswith('UPDATE "models_app_registeredmodel"') for q in ctx.captured_queries)
    registered_model.refresh_from_db()
    version.refresh_from_db()
    assert (version.version, registered_model.last_version_number) == (2, 2)
    assert registered_model.updated_at == version.created_at
    assert [f.path for f in version.files.all()] == ["b.bin"]


def test_each_rows_event_refers_to_it_and_a_registrations_files_are_all_kept(registered_model, publisher):
    version = register(registered_model, publisher, files={"b.bin": b"bb", "a.bin": b"a", "c/d.bin": b"ddd"})
    services.version_transition(version=version, to="staging", actor=publisher)

    for row in LedgerEntry.objects.filter(version=version):
        event = Event.objects.get(ledger_entry=row)
        assert event.payload["ledger_id"] == row.pk and event.occurred_at == row.created_at
    sizes = dict(ArtifactFile.objects.filter(version=version).values_list("path", "size"))
    assert sizes == {"a.bin": 1, "b.bin": 2, "c/d.bin": 3}
    ids = list(LedgerEntry.objects.order_by("id").values_list("id", flat=True))
    assert ids == sorted(ids) and ledger.verify_chain().ok  # ids follow the chain's order


@pytest.mark.postgres
def test_on_postgresql_one_statement_inserts_the_ledger_row_its_event_and_the_files(
    postgres_only, registered_model, publisher
):
    register(registered_model, publisher)
    with CaptureQueriesContext(connection) as ctx:
        version = register(registered_model, publisher, files={"x.bin": b"x", "y.bin": b"yy"})
    statements = [q["sql"] for q in ctx.captured_queries]
    merged = [sql for sql in statements if 'INSERT INTO "models_app_stagetransition"' in sql]
    assert len(merged) == 1 and merged[0].startswith('WITH lead AS (UPDATE "models_app_ledgerhead"')
    assert (
        'INSERT INTO "models_app_artifactfile"' in merged[0] and 'INSERT INTO "models_app_event"' in merged[0]
    )
    for table in ("artifactfile", "event"):
        assert not any(sql.startswith(f'INSERT INTO "models_app_{table}"') for sql in statements)
    row = LedgerEntry.objects.get(version=version)
    assert Event.objects.get(ledger_entry=row).sequence == LedgerHead.objects.get(pk=1).last_event_sequence
    assert ledger.verify_chain().ok


@pytest.mark.postgres
def test_on_postgresql_rows_numbered_together_get_the_keys_of_their_own_rows(
    postgres_only, registered_model, publisher
):
    version = register(registered_model, publisher)
    rows = [
        ArtifactFile(version=version, path=f"{n}.bin", size=n, sha256="0" * 64, storage_key=f"k/{n}")
        for n in (3, 1, 2)
    ]
    with transaction.atomic():
        insert_led_by(rows[0], "SELECT 1", [], also=rows[1:])
    assert all(not row._state.adding for row in rows)
    assert {row.pk: row.path for row in rows} == dict(
        ArtifactFile.objects.filter(version=version, storage_key__startswith="k/").values_list("pk", "path")
    )
    keyed = ArtifactFile(pk=10**9, version=version, path="k.bin", size=1, sha256="0" * 64, storage_key="k")
    unkeyed = ArtifactFile(version=version, path="u.bin", size=1, sha256="0" * 64, storage_key="u")
    with pytest.raises(ValueError, match="every primary key set or none"):
        insert_led_by(keyed, "SELECT 1", [], also=[unkeyed])


@pytest.mark.postgres
def test_on_postgresql_an_alias_is_created_and_moved_by_the_statement_that_moves_the_head(
    postgres_only, registered_model, publisher
):
    first, second = register(registered_model, publisher), register(registered_model, publisher)
    for version in (first, second):
        with CaptureQueriesContext(connection) as ctx:
            services.alias_set(
                registered_model=registered_model,
                alias="champion",
                version_number=version.version,
                actor=publisher,
            )
        statements = [q["sql"] for q in ctx.captured_queries]
        assert not any(
            sql.startswith(('INSERT INTO "models_app_modelalias"', 'UPDATE "models_app_modelalias"'))
            for sql in statements
        )
        [merged] = [
            sql for sql in statements if sql.startswith('WITH lead AS (UPDATE "models_app_ledgerhead"')
        ]
        assert '"models_app_modelalias"' in merged
        alias = registered_model.aliases.get(name="champion")
        assert (alias.version_id, alias.updated_by_id) == (version.pk, publisher.pk)
    rows = LedgerEntry.objects.filter(kind=LedgerKind.ALIAS_SET).order_by("id")
    assert [(r.details["from_version"], r.details["to_version"]) for r in rows] == [(None, 1), (1, 2)]
    assert ledger.verify_chain().ok
