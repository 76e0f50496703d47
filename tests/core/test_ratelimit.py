"""core.ratelimit.Quota on the real Redis: counters in fixed windows, leased a few units at a time
by a busy process, and never more admitted across processes than the limit. (The API's limits per
key and per account, through the requests: tests/apikeys/test_rate_limit.py.)"""

import time_machine


def test_counters_expire_and_survive_a_script_flush(db):
    """The lease is one Lua script: every counter it creates gets its expiry, and a Redis that
    lost its script cache (a restart, SCRIPT FLUSH) gets the script again."""
    import time

    from django.core.cache import cache
    from django_redis import get_redis_connection

    from core.ratelimit import Quota

    keys = [f"script-test-{i}" for i in range(2)]
    with time_machine.travel(time.time() // 60 * 60 + 5, tick=False):  # one window throughout
        quota = Quota()
        assert quota.take(keys, [5, 9], window_seconds=60) == (True, [4, 8])
        quota.clear()  # as another process would, without this one's lease
        assert quota.take(keys, [5, 9], window_seconds=60) == (True, [3, 7])
        client = get_redis_connection("default")
        window = int(time.time() // 60)
        for key in keys:
            assert 0 < client.ttl(cache.make_key(f"rl:{key}:{window}")) <= 65
        client.script_flush()
        quota.clear()
        assert quota.take(keys, [5, 9], window_seconds=60) == (True, [2, 6])


# --- Leases: a busy process asks Redis for a few units at a time --------------------------------


class CountingQuota:
    """A real Quota (real Redis, real script) that counts its round trips."""

    def __new__(cls):
        from core.ratelimit import Quota

        class Counting(Quota):
            trips = 0

            def _grant(self, *args, **kwargs):
                type(self).trips += 1
                return super()._grant(*args, **kwargs)

        return Counting()


def _window_start():
    import time

    return time.time() // 60 * 60 + 1


def test_a_busy_process_leases_units_and_admits_exactly_the_limit(db):
    """One process sending fast: far fewer round trips than requests, and exactly the limit
    admitted (near the limit the leases shrink to one unit), with Remaining counting down."""
    with time_machine.travel(_window_start(), tick=False):
        quota = CountingQuota()
        results = [quota.take(["busy-key", "busy-account"], [1000, 5000], window_seconds=60) for _ in range(1100)]
    admitted = [left for ok, left in results if ok]
    assert len(admitted) == 1000
    assert all(not ok for ok, _ in results[1000:])
    assert [left[0] for left in admitted] == list(range(999, -1, -1))
    assert quota.trips < 300, quota.trips
    assert [left for ok, left in results[1000:]] == [[0, 4000]] * 100


def test_processes_sharing_a_limit_never_admit_more_than_it(db):
    """Eight processes' worth of quotas (each its own leases) hammering one limit from threads:
    at most the limit in all, and only a few units lost to leases left unused."""
    import threading

    limit = 500
    with time_machine.travel(_window_start(), tick=False):
        quotas = [CountingQuota() for _ in range(8)]
        admitted = [0] * len(quotas)
        barrier = threading.Barrier(len(quotas))

        def run(i: int) -> None:
            barrier.wait(timeout=30)
            for _ in range(200):
                ok, _ = quotas[i].take(["shared-key", "shared-account"], [limit, 10**6], window_seconds=60)
                admitted[i] += ok

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(quotas))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert sum(admitted) <= limit
    assert sum(admitted) >= limit - 8 * 8, admitted  # each process holds at most room/8 unused


def test_a_lease_ends_with_its_window_and_with_a_changed_limit(db):
    start = _window_start()
    quota = CountingQuota()
    with time_machine.travel(start, tick=False):
        for _ in range(50):
            assert quota.take(["window-key"], [10_000], window_seconds=60)[0]
        trips = quota.trips
    with time_machine.travel(start + 60, tick=False):
        # A new window: the lease of the last one is not used, whatever it has left.
        assert quota.take(["window-key"], [10_000], window_seconds=60) == (True, [9_999])
        assert quota.trips == trips + 1
        for _ in range(20):
            assert quota.take(["window-key"], [10_000], window_seconds=60)[0]
        trips = quota.trips
        # The limit lowered by staff below what this window has used: the lease taken under the
        # old limit is dropped and the next request refused.
        ok, left = quota.take(["window-key"], [15], window_seconds=60)
        assert not ok
        assert left == [0]
        assert quota.trips == trips + 1


def test_a_changed_limit_gets_the_unused_units_back_and_counts_exactly(db):
    """Staff lower the limit while a process holds leased units: the units go back to Redis, so
    the new limit admits exactly what it has room for beyond the requests already admitted."""
    quota = CountingQuota()
    with time_machine.travel(_window_start(), tick=False):
        for _ in range(50):
            assert quota.take(["change-key"], [10_000], window_seconds=60)[0]
        lease = quota._leases[("change-key",)]
        assert lease.left > 10, "the test needs a lease holding more than the new room"
        results = [quota.take(["change-key"], [60], window_seconds=60) for _ in range(12)]
    assert results[:10] == [(True, [left]) for left in range(9, -1, -1)]
    assert results[10:] == [(False, [0])] * 2


def test_an_old_lease_is_not_used_and_its_units_go_back(db, monkeypatch):
    from django.core.cache import cache
    from django_redis import get_redis_connection

    from core import ratelimit

    quota = CountingQuota()
    start = _window_start()
    with time_machine.travel(start, tick=False):
        for _ in range(50):
            assert quota.take(["old-key"], [10_000], window_seconds=60)[0]
        monkeypatch.setattr(ratelimit, "LEASE_LIFETIME", -1)  # every lease is too old from now on
        trips = quota.trips
        for _ in range(5):
            assert quota.take(["old-key"], [10_000], window_seconds=60)[0]
        assert quota.trips == trips + 5
        counted = int(get_redis_connection("default").get(cache.make_key(f"rl:old-key:{int(start // 60)}")))
    assert counted == 55 + quota._leases[("old-key",)].left, "only the lease in use holds units"


def test_a_slow_round_trip_for_one_key_holds_up_no_other(db):
    """Threads of one process (gthread workers) wait for each other per key only."""
    import threading
    import time

    from core.ratelimit import Quota

    entered = threading.Event()
    release = threading.Event()

    class SlowForOneKey(Quota):
        def _grant(self, keys, *args, **kwargs):
            if keys == ["slow-key"]:
                entered.set()
                release.wait(timeout=10)
            return super()._grant(keys, *args, **kwargs)

    quota = SlowForOneKey()
    slow = threading.Thread(target=lambda: quota.take(["slow-key"], [100], window_seconds=60))
    slow.start()
    try:
        assert entered.wait(timeout=10)
        started = time.monotonic()
        assert quota.take(["fast-key"], [100], window_seconds=60) == (True, [99])
        assert time.monotonic() - started < 2, "the other key's round trip waited for the slow one"
    finally:
        release.set()
        slow.join(timeout=10)
