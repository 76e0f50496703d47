"""Tenant isolation in the API: another account's message is simply not found (404, never a 403
that confirms it exists), lists only ever hold the caller's own messages, and test and live keys
never see each other's messages."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Message
from tests import api_support as api

pytestmark = pytest.mark.django_db

LATER = (timezone.now() + timedelta(days=2)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@pytest.fixture
def two_accounts(make_account):
    mine = make_account(credit=100).memberships.get().user
    theirs = make_account(credit=100).memberships.get().user
    return mine, theirs


def sent_ids(response) -> list[str]:
    assert response.status_code == 202, response.content
    return [m["id"] for m in response.json()["messages"]]


def listed(client, headers, **params) -> list[str]:
    response = client.get("/api/v1/messages", params, **headers)
    assert response.status_code == 200, response.content
    return [m["id"] for m in response.json()["results"]]


def test_another_accounts_message_is_not_found(client, two_accounts):
    mine, theirs = two_accounts
    _, my_token = api.make_token(mine)
    _, their_token = api.make_token(theirs)
    [their_id] = sent_ids(api.send(client, api.bearer(their_token), to="+447400111222", scheduled_at=LATER))
    my_credential, my_secret = api.make_credential(mine)
    my_access = api.issue_access(client, api.bearer(my_token))["access_token"]

    for headers in (api.bearer(my_token), api.basic(my_credential.key_id, my_secret), api.bearer(my_access)):
        for prefix in ("/api/v1", "/api"):
            get = client.get(f"{prefix}/messages/{their_id}", **headers)
            cancel = client.delete(f"{prefix}/messages/{their_id}", **headers)
            # Exactly what an id that exists nowhere gets.
            unknown = client.get(f"{prefix}/messages/{uuid.uuid4()}", **headers)
            for response in (get, cancel, unknown):
                api.assert_problem(response, 404, "not_found")
            assert get.json()["detail"] == unknown.json()["detail"]
    message = Message.objects.get(pk=their_id)
    assert message.status == Message.Status.SCHEDULED
    assert client.get(f"/api/v1/messages/{their_id}", **api.bearer(their_token)).status_code == 200


def test_lists_never_show_another_accounts_messages(client, two_accounts):
    mine, theirs = two_accounts
    _, my_token = api.make_token(mine)
    _, their_token = api.make_token(theirs)
    my_ids = sent_ids(api.send(client, api.bearer(my_token), to=["+447400111222", "+447400111333"]))
    their_response = api.send(client, api.bearer(their_token), to=["+447400111222", "+447400999888"])
    their_ids = sent_ids(their_response)
    their_batch = their_response.json()["batch_id"]

    assert set(listed(client, api.bearer(my_token))) == set(my_ids)
    assert set(listed(client, api.bearer(their_token))) == set(their_ids)
    # Filters cannot reach across either: their batch id, their recipient, their statuses.
    assert listed(client, api.bearer(my_token), batch_id=their_batch) == []
    assert listed(client, api.bearer(my_token), to="+447400999888") == []
    assert set(listed(client, api.bearer(my_token), to="+447400111222")) <= set(my_ids)
    assert set(listed(client, api.bearer(my_token), status="queued")) == set(my_ids)
    # Nor can paging: every page of a one-per-page walk is mine.
    pages = api.every_page(lambda params: client.get("/api/v1/messages", params, **api.bearer(my_token)), limit=1)
    seen = [m["id"] for m in pages]
    assert sorted(seen) == sorted(my_ids)


def test_a_cursor_from_another_account_shows_only_the_callers_messages(client, two_accounts):
    mine, theirs = two_accounts
    _, my_token = api.make_token(mine)
    _, their_token = api.make_token(theirs)
    my_ids = sent_ids(api.send(client, api.bearer(my_token)))
    sent_ids(api.send(client, api.bearer(their_token), to=["+447400111222", "+447400111333"]))
    their_cursor = client.get("/api/v1/messages", {"limit": 1}, **api.bearer(their_token)).json()["next_cursor"]
    assert their_cursor
    assert set(listed(client, api.bearer(my_token), cursor=their_cursor)) <= set(my_ids)


def test_test_and_live_keys_never_see_each_others_messages(client, owner):
    _, live = api.make_token(owner)
    _, test = api.make_token(owner, is_test=True)
    live_credential, live_secret = api.make_credential(owner)
    test_credential, test_secret = api.make_credential(owner, is_test=True)
    live_access = api.issue_access(client, api.basic(live_credential.key_id, live_secret))["access_token"]
    test_access = api.issue_access(client, api.basic(test_credential.key_id, test_secret))["access_token"]
    live_keys = (api.bearer(live), api.basic(live_credential.key_id, live_secret), api.bearer(live_access))
    test_keys = (api.bearer(test), api.basic(test_credential.key_id, test_secret), api.bearer(test_access))

    live_ids = sent_ids(api.send(client, api.bearer(live), scheduled_at=LATER)) + sent_ids(
        api.send(client, live_keys[2])
    )
    test_ids = sent_ids(api.send(client, api.bearer(test), scheduled_at=LATER)) + sent_ids(
        api.send(client, test_keys[2])
    )
    assert Message.objects.filter(pk__in=test_ids, is_test=True).count() == 2
    assert Message.objects.filter(pk__in=live_ids, is_test=False).count() == 2

    for own, other, keys in ((live_ids, test_ids, live_keys), (test_ids, live_ids, test_keys)):
        for headers in keys:
            assert set(listed(client, headers)) == set(own)
            for message_id in other:
                api.assert_problem(client.get(f"/api/v1/messages/{message_id}", **headers), 404)
                api.assert_problem(client.delete(f"/api/v1/messages/{message_id}", **headers), 404)
            for message_id in own:
                body = client.get(f"/api/v1/messages/{message_id}", **headers).json()
                assert body["test"] is (keys is test_keys)
    # The scheduled ones were not canceled by the other mode's DELETE.
    assert Message.objects.filter(pk__in=[live_ids[0], test_ids[0]], status=Message.Status.SCHEDULED).count() == 2


def test_access_token_ids_of_another_account_cannot_be_revoked(client, two_accounts):
    mine, theirs = two_accounts
    _, my_token = api.make_token(mine)
    _, their_token = api.make_token(theirs)
    theirs_access = api.issue_access(client, api.bearer(their_token))
    api.assert_problem(
        client.delete(f"/api/v1/auth/token/{theirs_access['id']}", **api.bearer(my_token)), 404, "not_found"
    )
    assert client.get("/api/v1/balance", **api.bearer(theirs_access["access_token"])).status_code == 200
