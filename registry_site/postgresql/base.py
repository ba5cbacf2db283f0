"""Django's PostgreSQL backend, with the reuse health check skipped for a connection that answered a
moment ago.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every request that
reuses a connection: a whole round trip, about a third of a version read's time on the database. A
connection whose previous request used it without an error less than ``DATABASE_HEALTH_CHECK_AFTER``
seconds ago is taken as it is; one idle for longer (the case a database restart or an idle timeout
produces) is checked as before. A connection that broke within that moment fails its next request,
exactly as it would have failed if the break had come just after a check, so the skip is off unless
``DATABASE_HEALTH_CHECK_AFTER`` is set: a database restart shorter than the window would fail one
request per connection it dropped (tests/ops/test_instances.py cuts the database for less than that).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    _answered_at = float("-inf")

    def close_if_unusable_or_obsolete(self):
        # Runs when a request starts and when it ends. ``health_check_done`` is set once a request has
        # used the connection (its first query checked it or opened it), and cleared below for the next.
        if self.connection is not None and self.health_check_done and not self.errors_occurred:
            self._answered_at = time.monotonic()
        super().close_if_unusable_or_obsolete()

    def close_if_health_check_failed(self):
        recent = time.monotonic() - self._answered_at < settings.DATABASE_HEALTH_CHECK_AFTER
        if self.connection is not None and not self.health_check_done and recent:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
