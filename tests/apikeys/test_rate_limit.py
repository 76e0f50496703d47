"""Rate limits per key and per account (SPEC §5): atomic Redis counters in fixed one-minute
windows, so 50 clients at once against a limit of L get exactly L answers and 429s for the rest,
each 429 with `Retry-After` and the `RateLimit-*` headers.

The counters are keyed by the minute, so each test first travels to a few seconds into a fresh
minute (the clock keeps ticking from there): a burst can never straddle two windows, whenever the
suite happens to run.
"""

import threading
from datetime import timedelta
from functools import partial

import pytest
import time_machine
from django.test import Client

from accounts.models import Account
from apikeys.models import ApiToken
from tests.api_support import assert_problem, basic, bearer, make_credential, make_token
from tests.conftest import run_concurrently

BALANCE = "/api/v1/balance"
LIMIT = 10
CLIENTS = 50


def burst(headers: list[dict], *, path: str = BALANCE, clients: int = CLIENTS) -> list:
    """`clients` threads, each with its own test client, released at once against `path`."""
    barrier = threading.Barrier(clients)

    def request(i: int):
        client = Client()
        barrier.wait(timeout=30)
        return client.get(path, **headers[i % len(headers)])

    responses = run_concurrently(*(partial(request, i) for i in range(clients)), timeout=120)
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
