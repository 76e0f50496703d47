"""The readiness checks: database, cache and broker reachable. One home for `/readyz` and the
SMSGate dialect's `/3rdparty/v1/health`; each names the failing part, never why (the log does)."""

import logging
import threading
import time

from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    cache.set("readyz", "1", timeout=10)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return what was stored")


def _check_broker() -> None:
    from celery import current_app  # the project's app (portal/celery.py), without importing a layer above

    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = (("database", _check_database), ("cache", _check_cache), ("broker", _check_broker))


_recent: tuple[float, dict[str, bool]] | None = None
_recent_lock = threading.Lock()


def readiness(max_age: float = 0) -> dict[str, bool]:
    """Each dependency → reachable now. With `max_age` (seconds), an answer this process computed
    that recently is reused: a public probe (SMSGate's `/health`, reachable by anyone on the API's
    address) then costs the database, the cache and the broker at most one check round that often."""
    global _recent
    if max_age:
        with _recent_lock:
            if _recent is not None and time.monotonic() - _recent[0] < max_age:
                return dict(_recent[1])
    results = {}
    for name, check in CHECKS:
        try:
            check()
        except Exception:
            logger.exception("readiness check failed: %s", name)
            results[name] = False
        else:
            results[name] = True
    if max_age:
        with _recent_lock:
            _recent = (time.monotonic(), dict(results))
    return results
