"""Faults in the middle of an operation: the database connection dropped mid-promotion or mid-registration,
the storage failing mid-upload. Afterwards the invariants hold and nothing is half-done."""

from __future__ import annotations

import io

import psycopg
import pytest
from django.core.files.storage import FileSystemStorage
from django.db import DatabaseError, connection

from models_app import ledger, services
from models_app.choices import RequestStatus, Stage
from models_app.exceptions import StorageUnavailable
from models_app.ledger import verify_chain
from models_app.models import (
    Approval,
    ArtifactFile,
    LedgerEntry,
    LedgerHead,
    ModelVersion,
    RegisteredModel,
    TransitionRequest,
)
from models_app.services import _shared
from models_app.storage.artifacts import IncomingFile
from tests.conftest import promote, register


def stored_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_invariants(model: RegisteredModel):
    versions = list(ModelVersion.objects.filter(registered_model=model).order_by("version"))
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    model.refresh_from_db()
    assert model.last_version_number == len(versions)
    assert sum(v.stage == Stage.PRODUCTION for v in versions) <= 1
    for v in versions:
        last = (
            LedgerEntry.objects.filter(version=v, kind__in=["direct", "approved", "automatic", "rollback"])
            .order_by("-id")
            .first()
        )
        assert v.stage == (last.to_stage if last else Stage.NONE)
    report = verify_chain()
    assert report.ok, report.problem
    assert LedgerHead.objects.get(pk=1).count == LedgerEntry.objects.count()


# -- the database connection dropped mid-operation (PostgreSQL) ---------------------------------------


def kill_own_backend():
    """Terminate this Django connection's server process from a second connection, as a failover or
    an operator's pg_terminate_backend would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_connection_dropped_mid_promotion_leaves_nothing_half_done(
    postgres_only, registered_model, publisher, reviewer, monkeypatch
):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    services.version_transition(version=v2, to="staging", actor=publisher)
    req = services.transition_request_create(version=v2, to="production", actor=publisher)
    rows_before = LedgerEntry.objects.count()

    original = _shared.set_stage
    calls = []

    def set_stage_then_die(version, target, **kwargs):
        calls.append(target)
        if target == Stage.PRODUCTION:
            # v1 has just been archived in this transaction; the server goes away before v2 is promoted.
            kill_own_backend()
        return original(version, target, **kwargs)

    monkeypatch.setattr(_shared, "set_stage", set_stage_then_die)
    with pytest.raises(DatabaseError):
        services.transition_request_approve(transition_request=req, actor=reviewer, comment="ok")
    assert calls == [Stage.ARCHIVED, Stage.PRODUCTION]
    monkeypatch.undo()
    connection.close()  # the next query reconnects

    v1.refresh_from_db()
    v2.refresh_from_db()
    req.refresh_from_db()
    assert (v1.stage, v2.stage) == (Stage.PRODUCTION, Stage.STAGING)
    assert req.status == RequestStatus.PENDING
    assert not Approval.objects.filter(transition_request=req).exists()
    assert LedgerEntry.objects.count() == rows_before
    assert_invariants(registered_model)
    # The retry after the outage goes through normally.
    services.transition_request_approve(transition_request=req, actor=reviewer, comment="ok")
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.stage, v2.stage) == (Stage.ARCHIVED, Stage.PRODUCTION)
    assert_invariants(registered_model)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_connection_dropped_mid_registration_removes_the_stored_bytes(
    postgres_only, registered_model, publisher, artifact_root, monkeypatch
):
    register(registered_model, publisher)
    files_before = stored_files(artifact_root)
    original = ledger.append

    def append_then_die(row, **rows):
        kill_own_backend()
        return original(row, **rows)

    monkeypatch.setattr(ledger, "append", append_then_die)
    with pytest.raises(DatabaseError):
        register(registered_model, publisher, files={"a.bin": b"a" * 1000, "b.bin": b"b" * 1000})
    monkeypatch.undo()
    connection.close()
    assert stored_files(artifact_root) == files_before
    assert ModelVersion.objects.filter(registered_model=registered_model).count() == 1
    assert ArtifactFile.objects.count() == 1
    assert_invariants(registered_model)
    assert register(registered_model, publisher).version == 2


# -- the storage failing mid-upload ---------------------------------------------------------------------


class _Breaking:
    """File content that hands the storage ``limit`` bytes, then fails like a dropped storage link."""

    def __init__(self, content, limit):
        self.content, self.limit, self.sent = content, limit, 0

    def chunks(self, chunk_size=None):
        for chunk in self.content.chunks(64):
            if self.sent + len(chunk) > self.limit:
                raise OSError("connection reset by the storage service")
            self.sent += len(chunk)
            yield chunk

    def __getattr__(self, name):
        return getattr(self.content, name)


class FlakyStorage(FileSystemStorage):
    """Stores the first file whole; fails part-way through the second, leaving a partial object."""

    saves = 0

    def _save(self, name, content):
        type(self).saves += 1
        if type(self).saves == 2:
            return super()._save(name, _Breaking(content, limit=256))
        return super()._save(name, content)


def test_storage_failing_mid_upload_leaves_no_version_and_no_bytes(
    registered_model, publisher, settings, artifact_root
):
    register(registered_model, publisher)
    rows_before = LedgerEntry.objects.count()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.trust.test_faults.FlakyStorage",
            "OPTIONS": {"location": str(artifact_root)},
        },
    }
    FlakyStorage.saves = 0
    files_before = stored_files(artifact_root)
    incoming = [
        IncomingFile(path="weights/a.bin", stream=io.BytesIO(b"a" * 4096)),
        IncomingFile(path="weights/b.bin", stream=io.BytesIO(b"b" * 4096)),
    ]
    with pytest.raises(StorageUnavailable) as exc:
        services.version_register(registered_model=registered_model, actor=publisher, files=incoming)
    assert exc.value.field == "file" and "weights/b.bin" in str(exc.value)
    assert FlakyStorage.saves == 2
    # Neither the whole first file nor the partial second one is left behind.
    assert stored_files(artifact_root) == files_before
    assert ModelVersion.objects.filter(registered_model=registered_model).count() == 1
    assert LedgerEntry.objects.count() == rows_before
    assert not TransitionRequest.objects.exists()
    assert_invariants(registered_model)
