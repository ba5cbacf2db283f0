"""The database guards the invariants even when code goes around the services."""

import pytest
from django.db import IntegrityError, connection, transaction

from models_app.choices import Decision, LedgerKind, Stage
from models_app.exceptions import AppendOnlyViolation
from models_app.models import Approval, LedgerEntry, ModelVersion, TransitionRequest
from tests.conftest import promote, register


def test_a_second_production_version_is_refused_by_the_database(registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=v2.pk).update(stage=Stage.PRODUCTION)


def test_a_version_number_cannot_repeat(registered_model, publisher):
    register(registered_model, publisher)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(registered_model=registered_model, version=1, created_by=publisher)


def test_a_version_that_is_not_ready_cannot_hold_a_stage(registered_model, publisher):
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(
            registered_model=registered_model, version=5, created_by=publisher, stage=Stage.STAGING
        )


def test_a_self_approval_is_refused_by_the_database(registered_model, publisher):
    version = register(registered_model, publisher)
    req = TransitionRequest.objects.create(
        version=version, target_stage=Stage.PRODUCTION, requested_by=publisher
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.create(
            transition_request=req, reviewer=publisher, requester=publisher, decision=Decision.APPROVE
        )


def test_two_pending_requests_for_one_target_are_refused(registered_model, publisher):
    version = register(registered_model, publisher)
    TransitionRequest.objects.create(version=version, target_stage=Stage.PRODUCTION, requested_by=publisher)
    with pytest.raises(IntegrityError), transaction.atomic():
        TransitionRequest.objects.create(
            version=version, target_stage=Stage.PRODUCTION, requested_by=publisher
        )


@pytest.fixture
def ledger_row(registered_model, publisher):
    register(registered_model, publisher)
    return LedgerEntry.objects.get(kind=LedgerKind.REGISTERED)


def test_the_orm_cannot_change_or_delete_ledger_rows(ledger_row):
    ledger_row.comment = "rewritten"
    with pytest.raises(AppendOnlyViolation):
        ledger_row.save()
    with pytest.raises(AppendOnlyViolation):
        ledger_row.delete()
    with pytest.raises(AppendOnlyViolation):
        LedgerEntry.objects.all().update(comment="rewritten")
    with pytest.raises(AppendOnlyViolation):
        LedgerEntry.objects.all().delete()
    with pytest.raises(AppendOnlyViolation):
        LedgerEntry.objects.bulk_update([ledger_row], ["comment"])
    assert LedgerEntry.objects.get(pk=ledger_row.pk).comment == ""


@pytest.mark.postgres
def test_raw_sql_cannot_change_or_delete_ledger_rows_on_postgresql(postgres_only, ledger_row):
    table = LedgerEntry._meta.db_table
    for sql in (f"UPDATE {table} SET comment = 'rewritten'", f"DELETE FROM {table}"):
        with (
            pytest.raises(Exception, match=r"(?i)cannot (update|delete)"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql)
    assert LedgerEntry.objects.get(pk=ledger_row.pk).comment == ""
