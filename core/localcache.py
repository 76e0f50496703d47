"""A tiny per-process cache with a short time to live, for the API's hot path.

SPEC §5 allows a revoked or disabled key to work for at most a second on another worker, so the
request chain keeps what it looked up for `settings.API_LOCAL_CACHE_SECONDS` (1 s; 0 turns it
off, as the test suite does). Changes made in this process clear it at once.
"""

import time

from django.conf import settings

_entries: dict = {}


def get(key):
    ttl = settings.API_LOCAL_CACHE_SECONDS
    if not ttl:
        return None
    entry = _entries.get(key)
    if entry is None or time.monotonic() - entry[0] > ttl:
        return None
    return entry[1]


def put(key, value) -> None:
    if not settings.API_LOCAL_CACHE_SECONDS:
        return
    if len(_entries) > 10_000:
        _entries.clear()
    _entries[key] = (time.monotonic(), value)


def clear() -> None:
    _entries.clear()


def remember(key, compute):
    """This process's value for `key` from the last API_LOCAL_CACHE_SECONDS, or `compute()` now,
    kept for next time (a result of None is not kept)."""
    value = get(key)
    if value is None:
        value = compute()
        put(key, value)
    return value
