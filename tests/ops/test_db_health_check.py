"""Reused PostgreSQL connections (registry_site/postgresql/base.py): the reuse check costs no round trip
while nothing arrived on the connection; a connection the database ended is replaced before the request's
first query, and one with only a notification waiting stays in use."""

import select

import pytest
from django.db import connection, connections
from django.db.backends.postgresql import base as django_postgresql

from models_app.models import RegisteredModel


def _request() -> int:
    """What a request does to the connection: Django's start-of-request check, a query, the end check;
    returns the backend that answered."""
    connection.close_if_unusable_or_obsolete()
    RegisteredModel.objects.count()
    assert connection.health_check_done
    pid = connection.connection.info.backend_pid
    connection.close_if_unusable_or_obsolete()
    return pid


@pytest.fixture
def round_trips(monkeypatch):
    """The ``SELECT 1`` checks made (Django's own ``is_usable``, which ours falls back to)."""
    calls = []
    original = django_postgresql.DatabaseWrapper.is_usable

    def is_usable(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", is_usable)
    return calls


@pytest.fixture
def reused():
    """The test's connection, kept between requests and checked before reuse, as a server's is."""
    assert type(connections["default"]).__module__ == "registry_site.postgresql.base"
    connection.ensure_connection()
    connection.health_check_enabled, connection.close_at = True, None
    yield connection


def _from_another_connection(sql: str, params: list) -> None:
    other = connections["default"].copy()
    other.connect()
    try:
        with other.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        other.close()


def _wait_until_readable(seconds: float = 5.0) -> None:
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    assert poller.poll(seconds * 1000), "nothing arrived on the connection"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_quiet_connection_is_reused_without_a_round_trip(postgres_only, reused, round_trips):
    pids = {_request() for _ in range(5)}
    assert round_trips == [] and len(pids) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_ended_is_replaced(postgres_only, reused, round_trips):
    pid = _request()
    # The database ends the connection between two requests (a restart, an idle timeout).
    _from_another_connection("SELECT pg_terminate_backend(%s)", [pid])
    _wait_until_readable()
    assert _request() != pid  # checked, found closed, reconnected: the request's query succeeded
    assert round_trips == [1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_with_a_notification_waiting_is_checked_and_kept(postgres_only, reused, round_trips):
    with connection.cursor() as cursor:
        cursor.execute("LISTEN registry_health_check_test")
    pid = _request()
    _from_another_connection("SELECT pg_notify('registry_health_check_test', 'hello')", [])
    _wait_until_readable()
    assert _request() == pid
    assert round_trips == [1]
    with connection.cursor() as cursor:
        cursor.execute("UNLISTEN *")
