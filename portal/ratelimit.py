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


# INCR each key; a key's first count sets its expiry. One script: one round trip, atomic, and no
# counter is ever left without an expiry.
_COUNT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  counts[i] = count
end
return counts
"""
_script = None


def forget_once(key: str) -> None:
    """Undo `once` for `key`: the next call is the first again."""
    cache.delete(f"once:{key}")


def count_many(keys: list[str], *, window_seconds: int) -> list[int]:
    """Count one event under each key, in one round trip to Redis."""
    window = int(time.time() // window_seconds)
    cache_keys = [cache.make_key(f"rl:{key}:{window}") for key in keys]
    try:
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
    except (ImportError, NotImplementedError, AttributeError):
        return [count(key, window_seconds=window_seconds) for key in keys]
    global _script
    if _script is None:
        _script = client.register_script(_COUNT_SCRIPT)  # EVALSHA, loading the script when Redis lacks it
    return [int(value) for value in _script(keys=cache_keys, args=[window_seconds + 5], client=client)]
