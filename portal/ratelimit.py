"""Fixed-window counters in the cache (atomic INCR on Redis).

For rate limits only: cache counters are good enough to stop abuse, never for money.
"""

import time

from django.core.cache import cache


def hit(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one event; True while the count in the current window is within `limit`."""
    return count(key, window_seconds=window_seconds) <= limit


def count(key: str, *, window_seconds: int) -> int:
    """Count one event and return how many the current window has seen (atomic INCR)."""
    window = int(time.time() // window_seconds)
    cache_key = f"rl:{key}:{window}"
    if cache.add(cache_key, 1, timeout=window_seconds + 5):
        return 1
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window_seconds + 5)
        return 1


def once(key: str, *, seconds: int) -> bool:
    """True the first time in `seconds` (for alerts sent at most once an hour, and the like)."""
    return cache.add(f"once:{key}", 1, timeout=seconds)
