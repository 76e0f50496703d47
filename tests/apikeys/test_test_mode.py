"""Test mode (SPEC §5): test keys are validated, priced and answered like live ones, but never
charge and never reach a gateway; the magic numbers end as documented; the portal never lists
test messages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, Membership
from messaging.backends import locmem
from messaging.backends.testmode import MAGIC_NUMBERS
from messaging.models import LedgerEntry, Message, PriceRule, SenderName
from messaging.services import message_deliver
from tests import api_support as api

pytestmark = pytest.mark.django_db

LIVE_ONLY = "+447400111111"
TEST_ONLY = "+447400222222"


@pytest.fixture(autouse=True)
def prices():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    PriceRule.objects.update_or_create(country="GB", defaults={"price_per_segment": Decimal("2")})
    PriceRule.objects.update_or_create(country="US", defaults={"price_per_segment": Decimal("3.5")})


@pytest.fixture
def keys(owner):
    return api.bearer(api.make_token(owner)[1]), api.bearer(api.make_token(owner, is_test=True)[1])


def money(owner):
    account = Account.objects.get(pk=owner.membership.account_id)
    return account.balance, LedgerEntry.objects.filter(account=account).count()


def comparable(body: dict) -> dict:
    return {
        "messages": [{k: m[k] for k in ("to", "status", "segments", "encoding", "cost")} for m in body["messages"]],
        "total_cost": body["total_cost"],
    }


def test_test_requests_are_priced_and_answered_like_live_ones(client, owner, keys):
    live, test = keys
    request = {"to": ["+447400123456", "+15005550001", "+447400123456"], "text": "Zażółć gęślą jaźń 😀 " * 4}
    balance_before, _ = money(owner)
    test_response = api.send(client, test, **request)
    live_response = api.send(client, live, **request)
    assert test_response.status_code == live_response.status_code == 202
    test_body, live_body = test_response.json(), live_response.json()
    assert set(test_body) == set(live_body)
    assert comparable(test_body) == comparable(live_body)
    assert test_body["messages"][0]["encoding"] == "UCS-2"
    assert test_body["messages"][0]["segments"] == 2
    assert test_body["total_cost"] == "11.0000"  # two parts each: 2 (GB) + 3.5 (US) a part, the duplicate collapsed
    assert test_body["test"] is True
    assert live_body["test"] is False
    assert test_body["balance"] == f"{balance_before:.4f}"
    assert live_body["balance"] == f"{balance_before - Decimal('11'):.4f}"


def test_test_requests_never_charge(client, owner, keys):
    _, test = keys
    sub = api.make_subuser(owner, **api.ALL_PERMISSIONS)
    Membership.objects.filter(user=sub).update(monthly_limit=Decimal("50"))
    sub_test = api.bearer(api.make_token(sub, is_test=True)[1])
    credential, secret = api.make_credential(owner, is_test=True)
    access = api.bearer(api.issue_access(client, test)["access_token"])
    before = money(owner)
    for headers in (test, sub_test, api.basic(credential.key_id, secret), access):
        assert api.send(client, headers, to=["+447400123456", "+447400123457"]).status_code == 202
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    scheduled = api.send(client, test, scheduled_at=later)
    assert scheduled.status_code == 202
    message_id = scheduled.json()["messages"][0]["id"]
    assert client.delete(f"/api/v1/messages/{message_id}", **test).status_code == 200
    legacy = {"smsUser": credential.key_id, "smsKey": secret, "to": "+447400123456", "message": "Hi"}
    assert client.post("/smsapi/send", legacy).status_code == 200
    assert money(owner) == before
    assert Membership.objects.get(user=sub).monthly_spent == 0
    assert Message.objects.filter(is_test=False).count() == 0
    assert Message.objects.filter(is_test=True).count() == 10
    balance = client.get("/api/v1/balance", **sub_test).json()
    assert balance["monthly_spent"] == "0.0000"


@pytest.mark.parametrize(
    ("request_body", "status", "code"),
    [
        ({"to": ["+447400123456", "12"], "text": "Hi"}, 400, "invalid_recipients"),
        ({"to": "+447400123456", "text": "  "}, 400, "invalid_request"),
        ({"to": "+447400123456", "text": "x" * 1601}, 400, "text_too_long"),
        ({"to": "+447400123456", "text": "Hi", "sender": "NOTAPPROVED"}, 403, "sender_not_allowed"),
        ({"to": "+447400123456", "text": "Hi", "sender": "bad sender!!"}, 400, "invalid_request"),
        ({"to": "+447400123456", "text": "Hi", "scheduled_at": "2001-01-01T00:00:00Z"}, 400, "invalid_request"),
        ({"to": ["+447400123456"] * 10_001, "text": "Hi"}, 413, "too_many_recipients"),
        ({"text": "Hi"}, 400, "invalid_request"),
    ],
)
def test_test_requests_are_validated_like_live_ones(client, owner, keys, request_body, status, code):
    SenderName.objects.create(account=owner.membership.account, name="ACME", status=SenderName.Status.APPROVED)
    responses = [client.post("/api/v1/messages", request_body, content_type="application/json", **h) for h in keys]
    bodies = []
    for response in responses:
        assert response.status_code == status, response.content
        body = response.json()
        assert body["code"] == code
        bodies.append(body)
    assert bodies[0] == bodies[1]
    assert Message.objects.count() == 0


def test_a_suspended_account_refuses_test_keys_too(client, owner, keys):
    Account.objects.filter(pk=owner.membership.account_id).update(status=Account.Status.SUSPENDED)
    for headers in keys:
        assert api.send(client, headers).status_code == 403


def test_test_messages_never_reach_a_gateway_and_magic_numbers_end_as_documented(client, owner, keys, settings):
    settings.SMS_BACKEND = "locmem"
    live, test = keys
    test_ids = {m["to"]: m["id"] for m in api.send(client, test, to=[*MAGIC_NUMBERS, TEST_ONLY]).json()["messages"]}
    [live_id] = [m["id"] for m in api.send(client, live, to=LIVE_ONLY).json()["messages"]]
    before = money(owner)

    message_deliver(message_ids=list(test_ids.values()))
    assert locmem.outbox == []
    expected = {
        "+15005550001": ("delivered", ""),
        "+15005550002": ("undelivered", "test_undelivered"),
        "+15005550003": ("failed", "test_failed"),
        TEST_ONLY: ("delivered", ""),
    }
    for number, (status, error) in expected.items():
        body = client.get(f"/api/v1/messages/{test_ids[number]}", **test).json()
        assert (body["status"], body["error_code"]) == (status, error), number
        assert body["test"] is True
    # Failed and undelivered test messages were never charged, so nothing is refunded either.
    assert money(owner) == before

    # The live one does reach the configured backend.
    message_deliver(message_ids=[live_id])
    assert [sms.to for sms in locmem.outbox] == [LIVE_ONLY]


def test_the_magic_numbers_are_documented_in_the_api_description(client):
    description = client.get("/api/v1/schema/?format=json").json()["info"]["description"]
    for number in MAGIC_NUMBERS:
        assert number in description


def test_the_portal_never_lists_test_messages(client, owner, keys):
    live, test = keys
    api.send(client, live, to=LIVE_ONLY)
    [test_id] = [m["id"] for m in api.send(client, test, to=TEST_ONLY).json()["messages"]]
    client.force_login(owner)
    for url in ("/messages/", "/messages/?format=csv", "/"):
        response = client.get(url)
        assert response.status_code == 200, url
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert LIVE_ONLY.encode() in content or url == "/", url
        assert TEST_ONLY.encode() not in content, url
        assert test_id.encode() not in content, url
    assert client.get(f"/messages/{test_id}/").status_code == 404
