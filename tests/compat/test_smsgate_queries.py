"""Query counts of the SMSGate dialect's send (as tests/apikeys/test_query_count.py for /api/v1):
the statements of a send through /api/v1, whatever the number of recipients; with a client's id,
those of a /api/v1 send with an Idempotency-Key (the id's record) and one more: is the id taken?"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api_support import post_json
from tests.apikeys.test_query_count import LIVE_SEND_QUERIES, TEST_SEND_QUERIES, _mid_hour, keys, recipients  # noqa: F401
from tests.compat.support import smsgate_send

pytestmark = pytest.mark.django_db


def count(send) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = send()
    assert response.status_code == 202, response.content
    return len(captured.captured_queries)


@pytest.mark.parametrize(("is_test", "bound"), [(False, LIVE_SEND_QUERIES), (True, TEST_SEND_QUERIES)])
@pytest.mark.parametrize("kind", ["token", "credential", "access"])
def test_an_smsgate_send_takes_the_queries_of_an_api_send(client, make_account, is_test, bound, kind):
    owner = make_account(credit=1000).memberships.get().user
    headers = keys(client, owner, is_test=is_test)[kind]
    smsgate_send(client, headers)  # warm: last_used, first use from this address
    one = count(lambda: smsgate_send(client, headers, numbers=recipients(1)))
    many = count(lambda: smsgate_send(client, headers, numbers=recipients(300)))
    assert one <= bound
    assert many == one + (0 if is_test else 1)  # a live send of more than 20 reads the balance first
    with_id = count(lambda: smsgate_send(client, headers, numbers=recipients(1), id="with-an-id"))
    api_with_key = count(
        lambda: post_json(
            client, "/api/v1/messages", {"to": recipients(1), "text": "Hello"}, HTTP_IDEMPOTENCY_KEY="k", **headers
        )
    )
    assert with_id == api_with_key + 1
