"""Fixed-window counters in the cache (atomic INCR on Redis).

For rate limits only: cache counters are good enough to stop abuse, never for money.
"""

import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
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


def forget_once(key: str) -> None:
    """Undo `once` for `key`: the next call is the first again."""
    cache.delete(f"once:{key}")


# --- Quotas leased from Redis ---------------------------------------------------------------------
#
# The API's rate limits (per key and per account, each a fixed one-minute window) are counted in
# Redis, so they hold across every process. A process under load does not ask Redis once per
# request: it leases a few units at a time (one round trip, atomic: at most the room any limit
# has left) and admits its next requests from the lease. The lease size follows the process's
# own rate (enough for about LEASE_SECONDS of its traffic, up to API_RATE_LIMIT_LEASE_MAX, 64), and never more
# than an eighth of the room left, so near a limit every process asks for one unit at a time
# and the limit is counted request by request. Every unit granted was counted in Redis before
# any request used it: all processes together admit at most the limit. A lease is used for at
# most LEASE_LIFETIME; after that (or when staff change the limit) its unused units go back to
# Redis with the process's next round trip for the same keys. The cost is that units leased by
# a process that then gets no more requests on those keys stay unused until the window ends
# (at most an eighth of the room, per process, per key).

_LEASE_SCRIPT = """
local room = nil
local counts = {}
local back = tonumber(ARGV[3])
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if back > 0 and count >= back then count = redis.call('DECRBY', key, back) end
  counts[i] = count
  local left = tonumber(ARGV[3 + i]) - count
  if room == nil or left < room then room = left end
end
local grant = 0
if room > 0 then
  grant = math.min(tonumber(ARGV[2]), math.max(1, math.floor(room / 8)))
  for i, key in ipairs(KEYS) do
    counts[i] = redis.call('INCRBY', key, grant)
    if counts[i] == grant then redis.call('EXPIRE', key, ARGV[1]) end
  end
end
table.insert(counts, 1, grant)
return counts
"""
LEASE_SECONDS = 0.2
LEASE_LIFETIME = 1.0  # an older lease is not used: its unused units go back with the next round trip


@dataclass
class _Lease:
    window: int
    limits: tuple[int, ...]
    counts: list[int]  # each counter in Redis after the last grant (this lease's units included)
    left: int  # units granted to this process and not used yet
    granted: int
    fetched_at: float


LOCK_STRIPES = 64


class Quota:
    """Admission under several fixed-window limits at once (say, a key's and its account's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards clearing _leases
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._leases: dict[tuple[str, ...], _Lease] = {}
        self._script = None

    def clear(self) -> None:
        with self._lock:
            self._leases.clear()

    def _lock_for(self, name: tuple[str, ...]) -> threading.Lock:
        """Threads of a process (gthread workers) queue per set of keys: a slow round trip for one
        key holds up only the keys sharing its stripe. A fixed set of locks: one lock per key set,
        in a dict that must be cleared now and then, would let two threads hold different locks
        for the same lease after a clear."""
        return self._stripes[hash(name) % LOCK_STRIPES]

    def take(self, keys: list[str], limits: list[int], *, window_seconds: int) -> tuple[bool, list[int]]:
        """Admit one request under `limits` (one per key), or refuse it. Returns whether it is
        admitted and, per key, how many requests the window has left."""
        now = time.time()
        window = int(now // window_seconds)
        name = tuple(keys)
        with self._lock_for(name):
            lease = self._leases.get(name)
            returned = 0
            if lease is not None and lease.window != window:
                lease = None  # its units belonged to a window that is over
            elif lease is not None and (
                lease.limits != tuple(limits) or time.monotonic() - lease.fetched_at > LEASE_LIFETIME
            ):
                # A changed limit, or a lease kept too long (its counts, which Remaining comes
                # from, are stale): its unused units go back to the window with the next grant.
                returned, lease.left = lease.left, 0
            if lease is None or lease.left <= 0:
                lease, counts = self._lease(keys, limits, window, window_seconds, lease, returned)
                if lease is None:  # a limit is reached: say which (its room is 0)
                    return False, [max(limit - c, 0) for limit, c in zip(limits, counts, strict=True)]
                self._leases[name] = lease
            lease.left -= 1
            return True, [max(limit - count + lease.left, 0) for limit, count in zip(limits, lease.counts, strict=True)]

    def _lease(self, keys, limits, window, window_seconds, previous: _Lease | None, returned: int):
        now = time.monotonic()
        wanted = 1
        if previous is not None:
            # Enough for LEASE_SECONDS at the rate the last lease was used up (at most double it).
            elapsed = max(now - previous.fetched_at, 1e-3)
            wanted = max(
                1,
                min(
                    settings.API_RATE_LIMIT_LEASE_MAX,
                    2 * previous.granted,
                    math.ceil(previous.granted * LEASE_SECONDS / elapsed),
                ),
            )
        counts = self._grant(keys, limits, window, window_seconds, wanted, returned)
        granted, counts = counts[0], counts[1:]
        if granted <= 0:
            return None, counts
        if len(self._leases) > 10_000:
            with self._lock:
                self._leases.clear()
        return _Lease(window, tuple(limits), counts, granted, granted, now), counts

    def _grant(self, keys, limits, window, window_seconds, wanted, returned=0) -> list[int]:
        cache_keys = [cache.make_key(f"rl:{key}:{window}") for key in keys]
        try:
            from django_redis import get_redis_connection

            client = get_redis_connection("default")
        except (ImportError, NotImplementedError, AttributeError):
            # No Redis (the local run's cache): one unit per request, counted as before.
            counts = [count(key, window_seconds=window_seconds) for key in keys]
            ok = all(c <= limit for c, limit in zip(counts, limits, strict=True))
            return [1 if ok else 0, *counts]
        if self._script is None:
            self._script = client.register_script(_LEASE_SCRIPT)
        reply = self._script(keys=cache_keys, args=[window_seconds + 5, wanted, returned, *limits], client=client)
        return [int(value) for value in reply]


quota = Quota()
