"""GET /inbound and GET /inbound/{id} (SPEC §5): the account's inbound SMS, newest first,
cursor-paginated and filtered; another account's message (or one to an unassigned number) is a 404."""

import re
from datetime import UTC, datetime

import pytest
import time_machine

from inbound.models import InboundMessage
from inbound.services import inbound_number_assign, inbound_receive
from tests.api_support import assert_problem, bearer, every_page, make_token
from tests.inbound.conftest import NUMBER, SENDER

pytestmark = pytest.mark.django_db

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def api(client, owner, number):
    _, token = make_token(owner, scopes=["messages:read"])
    headers = bearer(token)
    return lambda path, params=None: client.get("/api/v1/" + path, params or {}, **headers)


def receive(text: str, at: datetime, sender: str = SENDER, to: str = NUMBER) -> InboundMessage:
    with time_machine.travel(at, tick=False):
        return inbound_receive(sender=sender, recipient=to, text=text)


def test_the_list_is_newest_first_paginated_and_each_item_reads_as_its_detail(api):
    received = [receive(f"Message {i}", datetime(2031, 3, 10, 9, i, tzinfo=UTC)) for i in range(5)]
    items = every_page(lambda params: api("inbound", params), limit=2)
    assert [item["text"] for item in items] == [f"Message {i}" for i in reversed(range(5))]
    first = items[0]
    assert set(first) == {"id", "from", "to", "text", "received_at"}
    assert (first["id"], first["from"], first["to"]) == (str(received[-1].pk), SENDER, NUMBER)
    assert ISO_Z.match(first["received_at"])
    assert api(f"inbound/{first['id']}").json() == first


def test_the_filters(api, owner):
    other_number = inbound_number_assign(number="+447400900501", account_id=owner.membership.account_id).number
    receive("a", datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    receive("b", datetime(2031, 3, 10, 10, 0, tzinfo=UTC), sender="+447400123457")
    receive("c", datetime(2031, 3, 10, 11, 0, tzinfo=UTC), to=other_number)

    def texts(**params):
        response = api("inbound", params)
        assert response.status_code == 200, response.content
        return [item["text"] for item in response.json()["results"]]

    assert texts(**{"from": "+447400123457"}) == ["b"]
    assert texts(to=other_number) == ["c"]
    assert texts(received_after="2031-03-10T09:30:00Z") == ["c", "b"]
    assert texts(received_before="2031-03-10T10:00:00Z") == ["a"]
    assert texts(received_after="2031-03-10T09:30:00Z", received_before="2031-03-10T10:30:00Z") == ["b"]
    body = assert_problem(api("inbound", {"received_after": "yesterday"}), 400)
    assert "received_after" in body["errors"]


def test_another_accounts_message_is_a_404(api, make_account):
    other = make_account(email="other@example.com")
    inbound_number_assign(number="+447400900502", account_id=other.pk)
    theirs = receive("theirs", datetime(2031, 3, 10, 9, 0, tzinfo=UTC), to="+447400900502")
    assert api("inbound").json()["results"] == []
    assert_problem(api(f"inbound/{theirs.pk}"), 404, "not_found")
    assert_problem(api("inbound/not-a-uuid"), 404)


def test_messages_stay_with_the_account_they_arrived_for(api, owner, make_account):
    kept = receive("before the move", datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    other = make_account(email="other@example.com")
    inbound_number_assign(number=NUMBER, account_id=other.pk)
    moved = receive("after the move", datetime(2031, 3, 10, 10, 0, tzinfo=UTC))
    assert [item["id"] for item in api("inbound").json()["results"]] == [str(kept.pk)]
    assert moved.account_id == other.pk
