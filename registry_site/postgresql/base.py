"""Django's PostgreSQL backend, with a reuse health check that costs no round trip.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every request that
reuses a connection: a whole round trip, about a third of a version read's time on the database.
Whatever ends a connection from the other side (a database restart, ``pg_terminate_backend``, an idle
timeout, a proxy that cuts it) makes PostgreSQL or the kernel send something the client never asked
for: the server's termination message, the connection's end. An idle connection with nothing to read
is therefore used as it is; one that has something waiting is checked with Django's ``SELECT 1`` as
before (which reads what waits: a notice leaves the connection usable, a closed one is replaced). So a
restart still costs a reconnect, not a failed request (tests/ops/test_db_health_check.py and the
instance tests, which cut the database under a running server).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

_WAITING = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.info.transaction_status != TransactionStatus.IDLE:
            return super().is_usable()
        try:
            poller = select.poll()  # not select(): a worker may hold descriptors above FD_SETSIZE
            poller.register(conn.fileno(), _WAITING)
            waiting = poller.poll(0)
        except (OSError, ValueError):
            return False
        return not waiting or super().is_usable()
