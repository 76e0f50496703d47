"""A tiny per-process cache with a short time to live, for the API's hot path.

SPEC §5 allows a revoked or disabled key to work for at most a second on another worker, so the
request chain keeps what it looked up for `settings.API_LOCAL_CACHE_SECONDS` (1 s; 0 turns it
off, as the test suite does). Changes made in this process clear it at once.
"""

import time

from django.conf import settings
from django.core.cache import cache

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


# --- Shared (Redis) copies under a version, with this process's copy in front -----------------


def shared_key(key: str) -> str:
    """The shared cache's key for `key` as of its current version. A change bumps the version
    after it commits: a reader that read the old rows before the commit, and stores them after
    it, stores them under a key no one reads any more (deleting a single key instead would let
    that late write bring the old value back until it expires)."""
    return f"{key}:{cache.get(key + ':version', 0)}"


def shared_changed(key: str) -> None:
    """`key`'s value changed: a new version in the shared cache, and this process forgets its copy.
    Call it in the changing transaction and again after it commits."""
    version_key = key + ":version"
    cache.add(version_key, 0, timeout=None)
    cache.incr(version_key)
    clear()


def shared_remember(key: str, compute, *, timeout: int = 60):
    """`compute()`'s value for `key`: this process's copy (API_LOCAL_CACHE_SECONDS), else the
    shared cache's for the current version (at most `timeout` seconds old), else computed now."""
    return remember(key, lambda: cache.get_or_set(shared_key(key), compute, timeout))
