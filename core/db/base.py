"""Django's PostgreSQL backend, with the connection health check at most once a second.

With CONN_HEALTH_CHECKS, Django checks a persistent connection with `SELECT 1` before the first
query of every request: a round trip that costs about as much as the INSERT of an API send. Here
a connection that passed a check less than `HEALTH_CHECK_INTERVAL` seconds ago is trusted for
the next request; one that has been idle longer is checked as before (the failures the check is
for, a restarted server or a connection dropped by a firewall, come after idle time).

`prepared_cursor()` runs the few statements that run for every message (the INSERTs of a send,
the charge of a live one, the claim and record of a hand-over, a delivery report) as server-side
prepared statements: PostgreSQL parses and plans them once per connection, and psycopg sends
the values as parameters instead of quoting them into the text. Django leaves
prepared statements off for every other query (its default, for connection poolers);
`DB_PREPARED_STATEMENTS=false` turns these off too, for a pooler that cannot keep them
(PgBouncer in transaction mode before 1.21, or without `max_prepared_statements`).
"""

import time

from django.conf import settings
from django.db.backends.postgresql import base

NEVER_BY_COUNT = 2**31 - 1


class PreparedCursor(base.ServerBindingCursor):
    """Every statement prepared: parsed and planned once on this connection.

    psycopg prepares nothing while the connection's `prepare_threshold` is None (Django's
    setting), and with any other value it keeps the text of every query it runs in a list of up
    to 100 per connection (Django's cursors put the values into the text: a bulk INSERT's text
    is megabytes). So the threshold is set only while this cursor runs its statement (a
    connection belongs to one thread), at a value no count reaches."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        connection = self.connection
        threshold = connection.prepare_threshold
        connection.prepare_threshold = NEVER_BY_COUNT
        try:
            return super().execute(query, params, prepare=True, binary=binary)
        finally:
            connection.prepare_threshold = threshold


HEALTH_CHECK_INTERVAL = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    _checked_at = float("-inf")

    def close_if_health_check_failed(self):
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        now = time.monotonic()
        if now - self._checked_at < HEALTH_CHECK_INTERVAL:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
        self._checked_at = now if self.connection is not None else float("-inf")

    def prepared_cursor(self):
        """A cursor (with Django's wrappers: query logging, execute_wrappers, error translation)
        whose statements are prepared on the server; a plain cursor when turned off."""
        if not getattr(settings, "DB_PREPARED_STATEMENTS", True):
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(PreparedCursor(self.connection))

    def connect(self):
        super().connect()
        self._checked_at = time.monotonic()  # a new connection needs no check
