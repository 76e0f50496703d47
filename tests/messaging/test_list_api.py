"""GET /messages: the shared paginator (core.pagination) and filters (messaging.filters), and one
visibility rule (messaging.selectors.visible_messages) for the API and the portal."""

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import Message
from messaging.selectors import visible_messages
from messaging.services import message_send_system
from tests.api_support import assert_problem, bearer, every_page, make_subuser, make_token, send

pytestmark = pytest.mark.django_db


def walk(client, headers, **params) -> list[str]:
    pages = every_page(lambda query: client.get("/api/v1/messages", query, **headers), **params)
    return [message["id"] for message in pages]


def test_the_messages_of_a_large_send_page_through_in_full_although_they_share_a_time(client, owner):
    """Every message of one send has the same `created_at`: the cursor holds the id too, so
    paging neither repeats nor skips, past the 1,000 ties DRF's CursorPagination can skip."""
    _, token = make_token(owner, is_test=True)
    to = [f"+4474001{n:05d}" for n in range(1201)]
    assert send(client, bearer(token), to=to).status_code == 202
    assert len(set(Message.objects.filter(is_test=True).values_list("created_at", flat=True))) == 1

    seen = walk(client, bearer(token), limit=500)
    expected = Message.objects.filter(is_test=True).order_by("-created_at", "-id").values_list("id", flat=True)
    assert seen == [str(pk) for pk in expected]


def test_every_filter_that_cannot_be_read_is_named(client, owner):
    _, token = make_token(owner)
    response = client.get(
        "/api/v1/messages", {"status": "lost", "batch_id": "x", "created_after": "yesterday"}, **bearer(token)
    )
    body = assert_problem(response, 400, "invalid_request")
    assert body["errors"] == {
        "status": ["Unknown status."],
        "batch_id": ["Not a UUID."],
        "created_after": ["An ISO 8601 time with zone, e.g. 2026-01-31T00:00:00Z."],
    }
    body = assert_problem(client.get("/api/v1/messages", {"limit": "ten"}, **bearer(token)), 400, "invalid_request")
    assert body["errors"] == {"limit": ["A number from 1 to 500."]}


def test_a_limit_out_of_range_is_brought_into_range(client, owner):
    _, token = make_token(owner, is_test=True)
    send(client, bearer(token), to=["+447400100001", "+447400100002"])
    for limit, shown in (("0", 1), ("-5", 1), ("1", 1), ("100000", 2)):
        response = client.get("/api/v1/messages", {"limit": limit}, **bearer(token))
        assert len(response.json()["results"]) == shown, limit


def cursor_of(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.text(max_size=40),
        st.builds(
            cursor_of,
            st.lists(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.floats(allow_nan=False)), max_size=3),
        ),
        st.sampled_from(
            [
                cursor_of(["2026-02-30T00:00:00Z", "0190a3c4-0000-7000-8000-000000000001"]),
                cursor_of(["2026-01-01T00:00:00", "0190a3c4-0000-7000-8000-000000000001"]),
                cursor_of(["9999-12-31T23:59:59-05:00", "0190a3c4-0000-7000-8000-000000000001"]),
                cursor_of(["\ud800", 1]),
                cursor_of([2**64]),
                cursor_of({"a": 1}),
            ]
        ),
    )
)
def test_a_cursor_that_is_not_ours_is_a_400_on_every_list(client, owner, value):
    _, token = make_token(owner)
    for path in ("/api/v1/messages", "/api/v1/contacts", "/api/v1/groups"):
        response = client.get(path, {"cursor": value}, **bearer(token))
        if response.status_code != 200:
            body = assert_problem(response, 400, "invalid_request")
            assert body["errors"] == {"cursor": ["Not a cursor from this API."]}


def test_the_api_and_the_portal_show_a_member_the_same_messages(client, owner):
    """A member without `view_messages` sees the messages it sent (and its keys cannot read
    messages at all: the scope needs the permission); with it, the account's live messages, and
    a test key only test ones."""
    sender = make_subuser(owner, send_sms=True, view_messages=False, manage_api_tokens=True)
    reader = make_subuser(owner, send_sms=True, view_messages=True, manage_api_tokens=True)
    scopes = ["messages:send", "messages:read"]
    _, owner_token = make_token(owner)
    _, sender_token = make_token(sender, scopes=["messages:send"])
    _, reader_token = make_token(reader, scopes=scopes)
    _, reader_test = make_token(reader, scopes=scopes, is_test=True)
    theirs = send(client, bearer(owner_token), to="+447400100001").json()["messages"][0]["id"]
    mine = send(client, bearer(sender_token), to="+447400100002").json()["messages"][0]["id"]
    test = send(client, bearer(reader_test), to="+447400100003").json()["messages"][0]["id"]

    assert [str(pk) for pk in visible_messages(user=sender).values_list("id", flat=True)] == [mine]
    client.force_login(sender)
    page = client.get("/messages/").content.decode()
    assert "+447400100002" in page
    assert "+447400100001" not in page
    assert "+447400100003" not in page
    assert_problem(client.get("/api/v1/messages", **bearer(sender_token)), 403, "insufficient_scope")

    assert walk(client, bearer(reader_token)) == [mine, theirs]
    assert walk(client, bearer(reader_test)) == [test]
    assert [str(pk) for pk in visible_messages(user=reader, is_test=True).values_list("id", flat=True)] == [test]
    assert walk(client, bearer(owner_token)) == [mine, theirs]


def test_sign_in_codes_are_never_listed_in_the_portal_or_the_api(client, owner):
    code = message_send_system(
        account=owner.membership.account, user=owner, to="+447400100001", text="123456 is your code", sensitive=True
    )
    headers = bearer(make_token(owner, scopes=["messages:send", "messages:read", "balance:read"])[1])
    assert client.get("/api/v1/messages", **headers).json()["results"] == []
    assert client.get(f"/api/v1/messages/{code.pk}", **headers).status_code == 404
    client.force_login(owner)
    assert b"123456" not in client.get("/messages/").content
    assert client.get(f"/messages/{code.pk}/").status_code == 404
