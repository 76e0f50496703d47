"""Rate limits per key and per account (SPEC §5): atomic Redis counters in fixed one-minute
windows, so 50 clients at once against a limit of L get exactly L answers and 429s for the rest,
each 429 with `Retry-After` and the `RateLimit-*` headers.

The counters are keyed by the minute, so each test first travels to a few seconds into a fresh
minute (the clock keeps ticking from there): a burst can never straddle two windows, whenever the
suite happens to run.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connections
from django.test import Client

from accounts.models import Account
from apikeys.models import ApiToken
from tests.api_support import assert_problem, basic, bearer, make_credential, make_token

BALANCE = "/api/v1/balance"
LIMIT = 10
CLIENTS = 50


@pytest.fixture
def fresh_window():
    """Travel to 5 s into a minute (the clock ticks on from there): 55 s before the window ends."""
    now = datetime.now(tz=UTC)
    start = now.replace(second=5, microsecond=0) + timedelta(minutes=10)
    with time_machine.travel(start, tick=True):
        yield start


def burst(headers: list[dict], *, path: str = BALANCE, clients: int = CLIENTS) -> list:
    """`clients` threads, each with its own test client, released at once against `path`."""
    barrier = threading.Barrier(clients)
    responses: list = [None] * clients
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            client = Client()
            barrier.wait(timeout=30)
            responses[i] = client.get(path, **headers[i % len(headers)])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(response is not None for response in responses)
    return responses


def assert_limited(response, limit: int) -> None:
    assert_problem(response, 429, "rate_limited")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response["RateLimit-Limit"] == str(limit)
    assert response["RateLimit-Remaining"] == "0"
    assert 1 <= int(response["RateLimit-Reset"]) <= 60


def split(responses: list) -> tuple[list, list]:
    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(ok) + len(limited) == len(responses), sorted({r.status_code for r in responses})
    return ok, limited


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_clients_get_at_most_the_key_limit(owner, fresh_window):
    Account.objects.filter(pk=owner.membership.account_id).update(api_token_rate_limit_per_minute=LIMIT)
    _, secret = make_token(owner)
    ok, limited = split(burst([bearer(secret)]))
    assert len(ok) == LIMIT
    assert len(limited) == CLIENTS - LIMIT
    # The counter is atomic: every success saw a different count.
    assert sorted(int(r["RateLimit-Remaining"]) for r in ok) == list(range(LIMIT))
    assert {r["RateLimit-Limit"] for r in ok} == {str(LIMIT)}
    for response in limited:
        assert_limited(response, LIMIT)


@pytest.mark.django_db(transaction=True)
def test_a_keys_own_limit_overrides_the_accounts_default(owner, fresh_window):
    token, secret = make_token(owner)
    ApiToken.objects.filter(pk=token.pk).update(rate_limit_per_minute=5)
    ok, limited = split(burst([bearer(secret)], clients=20))
    assert len(ok) == 5
    for response in limited:
        assert_limited(response, 5)


@pytest.mark.django_db(transaction=True)
def test_the_account_limit_holds_across_keys(owner, fresh_window):
    Account.objects.filter(pk=owner.membership.account_id).update(api_rate_limit_per_minute=LIMIT)
    _, token = make_token(owner)
    credential, secret = make_credential(owner)
    ok, limited = split(burst([bearer(token), basic(credential.key_id, secret)]))
    assert len(ok) == LIMIT
    for response in limited:
        assert_limited(response, LIMIT)


# --- Sequential behaviour ---------------------------------------------------------------------


@pytest.fixture
def limited_owner(owner):
    Account.objects.filter(pk=owner.membership.account_id).update(api_token_rate_limit_per_minute=3)
    return owner


@pytest.mark.django_db
def test_the_next_window_starts_afresh(client, limited_owner, fresh_window):
    _, secret = make_token(limited_owner)
    statuses = [client.get(BALANCE, **bearer(secret)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    with time_machine.travel(fresh_window + timedelta(minutes=1), tick=True):
        response = client.get(BALANCE, **bearer(secret))
    assert response.status_code == 200
    assert response["RateLimit-Remaining"] == "2"


@pytest.mark.django_db
def test_one_keys_limit_does_not_touch_another_key(client, limited_owner, fresh_window):
    _, first = make_token(limited_owner)
    _, second = make_token(limited_owner)
    for _ in range(3):
        assert client.get(BALANCE, **bearer(first)).status_code == 200
    assert_limited(client.get(BALANCE, **bearer(first)), 3)
    assert client.get(BALANCE, **bearer(second)).status_code == 200


@pytest.mark.django_db
def test_refused_requests_do_not_use_up_the_limit(client, limited_owner, fresh_window):
    """The limit comes last in the chain: requests refused before it are not counted."""
    _, secret = make_token(limited_owner, scopes=["balance:read"])
    for _ in range(10):
        assert_problem(client.get("/api/v1/messages", **bearer(secret)), 403, "insufficient_scope")
    response = client.get(BALANCE, **bearer(secret))
    assert response.status_code == 200
    assert response["RateLimit-Remaining"] == "2"


@pytest.mark.django_db
def test_access_tokens_count_against_their_parent_key(client, limited_owner, fresh_window):
    _, secret = make_token(limited_owner)
    issued = client.post("/api/v1/auth/token", {"ttl": 600}, content_type="application/json", **bearer(secret))
    assert issued.status_code == 201
    access = bearer(issued.json()["access_token"])
    assert client.get(BALANCE, **access).status_code == 200
    assert client.get(BALANCE, **bearer(secret)).status_code == 200
    assert_limited(client.get(BALANCE, **access), 3)
    assert_limited(client.get(BALANCE, **bearer(secret)), 3)


@pytest.mark.django_db
def test_the_legacy_endpoint_shares_the_credentials_limit(client, limited_owner, fresh_window):
    credential, secret = make_credential(limited_owner)
    for _ in range(3):
        assert client.get(BALANCE, **basic(credential.key_id, secret)).status_code == 200
    response = client.post(
        "/smsapi/send", {"smsUser": credential.key_id, "smsKey": secret, "to": "+447400123456", "message": "Hi"}
    )
    assert response.status_code == 429
    assert response.content.startswith(b"ERROR rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["RateLimit-Remaining"] == "0"


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


def test_an_address_spraying_bad_keys_gets_429_before_any_lookup(client, owner, settings):
    """Past API_AUTH_FAILURES_PER_MINUTE failures from one address, further failures are 429s and
    the address is refused without a lookup for a second; then a good key works again."""
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core import localcache
    from tests.api_support import assert_problem, bearer, make_token

    settings.API_AUTH_FAILURES_PER_MINUTE = 3
    settings.API_LOCAL_CACHE_SECONDS = 1
    localcache.clear()
    _, good = make_token(owner, scopes=["balance:read"])
    spray = {"REMOTE_ADDR": "198.51.100.77"}
    for i in range(3):
        bad = bearer(f"live_{i:012x}_not-a-real-secret-not-a-real-secret-xyz")
        assert_problem(client.get("/api/v1/balance", **bad, **spray), 401)
    refused = client.get("/api/v1/balance", **bearer("live_0000000000ff_another-made-up-secret-abcdefghij"), **spray)
    assert_problem(refused, 429, "rate_limited")
    assert refused["Retry-After"] == "60"
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/balance", **bearer(good), **spray).status_code == 429
    assert captured.captured_queries == [], "refused before any lookup"
    assert client.get("/api/v1/balance", **bearer(good), REMOTE_ADDR="198.51.100.78").status_code == 200
    time.sleep(1.1)
    assert client.get("/api/v1/balance", **bearer(good), **spray).status_code == 200


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
