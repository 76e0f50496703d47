"""Query counts on the API's hot paths: an authenticated send takes a small constant number of
queries whatever the number of recipients, and a balance read takes one.

Measured on this code, with the suite's per-process caches off (in production the key, the
prices and the sender names come from the process for up to a second): a live send is 10
statements here: key lookup, prices, SAVEPOINT (its transaction inside the test's own), sender
names, the recipients' opt-outs (one query for all of them), one insert of the messages, the
debit with its ledger row (one statement), the hour's traffic upsert, the sub-user's spend,
RELEASE. A test-mode send is key, prices, sender names, opt-outs and the insert, with no
transaction: 5 (in production, the opt-outs and the insert). Each request is measured
after a first one with the same key, so the once-a-minute `last_used` write and the
first-use-from-an-address audit are not counted.
"""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api_support import basic, bearer, issue_access, make_credential, make_token, send

pytestmark = pytest.mark.django_db

LIVE_SEND_QUERIES = 10
TEST_SEND_QUERIES = 5
BALANCE_QUERIES = 1


@pytest.fixture(autouse=True)
def _mid_hour():
    """The first send of a clock hour creates its traffic counter row: stay inside one hour."""
    with time_machine.travel(datetime(2031, 3, 10, 9, 20, 5, tzinfo=UTC), tick=True):
        yield


def recipients(n: int) -> list[str]:
    return [f"+4474001{i:05d}" for i in range(n)]


def keys(client, owner, *, is_test: bool) -> dict[str, dict]:
    _, token = make_token(owner, is_test=is_test)
    credential, secret = make_credential(owner, is_test=is_test)
    access = issue_access(client, bearer(token))["access_token"]
    return {"token": bearer(token), "credential": basic(credential.key_id, secret), "access": bearer(access)}


def count_send(client, headers, n: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = send(client, headers, to=recipients(n))
    assert response.status_code == 202, response.content
    assert len(response.json()["messages"]) == n
    return len(captured.captured_queries)


@pytest.mark.parametrize(("is_test", "bound"), [(False, LIVE_SEND_QUERIES), (True, TEST_SEND_QUERIES)])
@pytest.mark.parametrize("kind", ["token", "credential", "access"])
def test_send_takes_a_small_constant_number_of_queries(client, make_account, django_assert_max_num_queries, is_test,
                                                       bound, kind):  # fmt: skip
    owner = make_account(credit=1000).memberships.get().user
    headers = keys(client, owner, is_test=is_test)[kind]
    send(client, headers)  # warm: last_used, first use from this address, cached lists
    with django_assert_max_num_queries(bound):
        assert send(client, headers).status_code == 202
    one, fifty, many = count_send(client, headers, 1), count_send(client, headers, 50), count_send(client, headers, 500)
    # A live request of more than 20 recipients first reads the balance, unlocked (the precheck that
    # spares an account that cannot pay the writes): one query more, whatever the number.
    assert one <= bound
    assert fifty == many == one + (0 if is_test else 1)


def test_balance_takes_one_query(client, owner, django_assert_max_num_queries, settings):
    """The balance itself, read fresh; an API token's or credential's lookup comes from the
    process (production's one-second cache, on here), an access token is looked up every time
    (its revocation works at once)."""
    settings.API_LOCAL_CACHE_SECONDS = 1
    for kind, headers in keys(client, owner, is_test=False).items():
        assert client.get("/api/v1/balance", **headers).status_code == 200
        with django_assert_max_num_queries(BALANCE_QUERIES + (kind == "access")):
            assert client.get("/api/v1/balance", **headers).status_code == 200


def test_a_send_with_opted_out_recipients_takes_as_many_queries(client, make_account):
    """The opt-outs of all the recipients are one query, however many of them there are and
    however many are opted out."""
    from contacts.models import OptOut

    owner = make_account(credit=10_000).memberships.get().user
    headers = keys(client, owner, is_test=False)["token"]
    send(client, headers)  # warm
    many = recipients(500)
    OptOut.objects.bulk_create(
        [OptOut(account_id=owner.membership.account_id, phone=number, source="api") for number in many[::2]]
    )
    one, fifty, many = count_send(client, headers, 1), count_send(client, headers, 50), count_send(client, headers, 500)
    assert one <= LIVE_SEND_QUERIES
    assert fifty == many == one + 1  # the precheck of a request of more than 20
