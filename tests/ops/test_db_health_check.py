"""Reused PostgreSQL connections (registry_site/postgresql/base.py): the health check's round trip is
skipped for a connection that answered within DATABASE_HEALTH_CHECK_AFTER seconds, and still made for
one idle longer, so a connection the database dropped meanwhile is replaced instead of failing a request."""

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from models_app.models import RegisteredModel


def _request(checks: list) -> None:
    """What a request does to the connection: Django's start-of-request check, a query, the end check."""
    connection.close_if_unusable_or_obsolete()
    with CaptureQueriesContext(connection):
        RegisteredModel.objects.count()
    checks.append(connection.health_check_done)
    connection.close_if_unusable_or_obsolete()


@pytest.fixture
def counted_checks(monkeypatch):
    calls = []
    original = type(connections["default"]).is_usable

    def is_usable(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(type(connections["default"]), "is_usable", is_usable)
    return calls


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_that_just_answered_is_not_checked_again(postgres_only, counted_checks, settings):
    settings.DATABASE_HEALTH_CHECK_AFTER = 60
    connection.settings_dict["CONN_HEALTH_CHECKS"] = True
    assert type(connections["default"]).__module__ == "registry_site.postgresql.base"
    done = []
    for _ in range(5):
        _request(done)
    assert counted_checks == [] and done == [True] * 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_is_checked_and_a_dropped_one_replaced(postgres_only, counted_checks, settings):
    settings.DATABASE_HEALTH_CHECK_AFTER = 0  # every reuse counts as idle
    connection.settings_dict["CONN_HEALTH_CHECKS"] = True
    done = []
    _request(done)
    _request(done)
    assert len(counted_checks) >= 1
    # The database drops the connection between two requests (an idle timeout, a restart).
    backend_pid = connection.connection.info.backend_pid
    other = connections["default"].copy()
    other.connect()
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
    other.close()
    _request(done)  # checked, found dead, reconnected: the request's query succeeds
    assert connection.connection.info.backend_pid != backend_pid
