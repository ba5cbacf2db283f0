"""Writes to different models of one team do not wait for each other (real PostgreSQL row locks)."""

import io
import threading
import time

import pytest
from django.db import connection, transaction

from models_app import services
from models_app.models import ModelVersion
from models_app.services._shared import lock_model
from models_app.storage.artifacts import IncomingFile

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HOLD_SECONDS = 20  # how long the first transaction would keep model A locked if nothing released it
PROMPT_SECONDS = 5  # a write that waited for A's lock would run into the lock timeout below instead


@pytest.fixture(autouse=True)
def _postgres(postgres_only):
    """Row locks are PostgreSQL's."""


def _hold_lock_on(model_pk: int, locked: threading.Event, release: threading.Event, errors: list) -> None:
    try:
        with transaction.atomic():
            lock_model(model_pk)
            locked.set()
            release.wait(HOLD_SECONDS)
    except Exception as exc:  # asserted by the test
        errors.append(exc)
    finally:
        connection.close()


def test_a_write_to_one_model_never_waits_for_a_lock_held_on_another_model_of_the_team(
    publisher, team, registered_model
):
    other = services.registered_model_create(name="fraud-explainer", team=team, actor=publisher)
    locked, release, errors = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=_hold_lock_on, args=(registered_model.pk, locked, release, errors))
    holder.start()
    try:
        assert locked.wait(PROMPT_SECONDS), "the first transaction did not get model A's lock"
        with connection.cursor() as cursor:
            # Waiting on any lock fails this connection's statement instead of blocking the test.
            cursor.execute(f"SET lock_timeout = '{PROMPT_SECONDS}s'")
        started = time.monotonic()
        version, created = services.version_register(
            registered_model=other,
            actor=publisher,
            files=[IncomingFile("model.bin", io.BytesIO(b"weights of B"))],
        )
        services.alias_set(registered_model=other, alias="champion", version_number=1, actor=publisher)
        services.version_transition(version=version, to="staging", actor=publisher)
        services.registered_model_create(name="fraud-third", team=team, actor=publisher)
        elapsed = time.monotonic() - started
        assert created and version.version == 1
        assert elapsed < PROMPT_SECONDS, f"writes to model B took {elapsed:.1f}s while A was locked"
        # Model A's lock is still held (the writes above did not wait for it to end).
        assert holder.is_alive() and not release.is_set()
    finally:
        release.set()
        holder.join(HOLD_SECONDS + 5)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert not holder.is_alive()
    assert errors == []
    assert ModelVersion.objects.filter(registered_model=other).count() == 1


def test_the_model_lock_leaves_the_team_row_unlocked(publisher, team, registered_model):
    """Other connections can lock the team's group row while a write holds its model's lock."""
    locked, release, errors = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=_hold_lock_on, args=(registered_model.pk, locked, release, errors))
    holder.start()
    try:
        assert locked.wait(PROMPT_SECONDS)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT id FROM auth_group WHERE id = %s FOR UPDATE NOWAIT", [team.pk])
            assert cursor.fetchone() == (team.pk,)
    finally:
        release.set()
        holder.join(HOLD_SECONDS + 5)
    assert errors == []
