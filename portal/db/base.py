"""Django's PostgreSQL backend, with the connection health check at most once a second.

With CONN_HEALTH_CHECKS, Django checks a persistent connection with `SELECT 1` before the first
query of every request: a round trip that costs about as much as the INSERT of an API send. Here
a connection that passed a check less than `HEALTH_CHECK_INTERVAL` seconds ago is trusted for
the next request; one that has been idle longer is checked as before (the failures the check is
for, a restarted server or a connection dropped by a firewall, come after idle time).
"""

import time

from django.db.backends.postgresql import base

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

    def connect(self):
        super().connect()
        self._checked_at = time.monotonic()  # a new connection needs no check
