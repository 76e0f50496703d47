"""SMSAPI's own Python client (smsapi-client 2.9.7, pinned in requirements-dev.txt, unmodified)
against the served product: a customer changes the client's domain and key, not their code.
Delivery runs through a real Celery worker and Kannel with its fake SMSC."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from smsapi.client import Client
from smsapi.exception import EndpointException, SendException

from accounts.models import Account
from messaging.models import Message
from tests import api_support as api
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def domain(live_server) -> str:
    return f"{live_server.url}/smsapi/"  # the client appends `sms.do`, `user.do`


def rest(live_server, path: str, secret: str, method: str = "get", **kwargs) -> requests.Response:
    return requests.request(
        method, live_server.url + path, headers={"Authorization": f"Bearer {secret}"}, timeout=10, **kwargs
    )


@pytest.mark.worker
def test_a_bearer_send_with_details_is_our_message_and_is_delivered_through_kannel(
    live_server, kannel_worker, kannel, funded_owner
):
    kannel_worker()
    _, secret = api.make_token(funded_owner)
    client = Client(domain(live_server), access_token=secret)
    result = client.sms.send(to=api.PHONE, message="Zażółć gęślą jaźń", details=True)
    assert result.count == 1
    assert (result.message, result.length, result.parts) == ("Zażółć gęślą jaźń", 17, 1)
    sent = result.results[0]
    stored = Message.objects.get(pk=sent.id)
    assert (stored.recipient, stored.is_test, stored.cost) == (api.PHONE, False, Decimal("1"))
    assert (sent.number, sent.submitted_number, sent.status, sent.points) == (api.PHONE[1:], api.PHONE, "QUEUE", 1.0)
    wait_for(
        lambda: Message.objects.get(pk=sent.id).status == "delivered",
        timeout=60,
        message="the message delivered through Kannel, with its report",
    )
    assert [received[2] for received in kannel.received()] == ["Zażółć gęślą jaźń"]
    assert rest(live_server, f"/api/v1/messages/{sent.id}", secret).json()["status"] == "delivered"


def test_the_balance_is_the_rest_api_s_and_falls_with_a_send(live_server, owner):
    _, secret = api.make_token(owner)
    client = Client(domain(live_server), access_token=secret)
    before = client.account.balance()
    assert Decimal(str(before.points)) == Decimal(rest(live_server, "/api/v1/balance", secret).json()["balance"])
    assert (before.pro_count, before.eco_count, before.mms_count) == (100, 100, 0)
    client.sms.send(to=api.PHONE, message="Hello")
    assert client.account.balance().points == before.points - 1


def test_basic_auth_with_an_api_credential(live_server, owner):
    credential, secret = api.make_credential(owner)
    client = Client(domain(live_server), username=credential.key_id, password=secret)
    result = client.sms.send(to=api.PHONE, message="Hello")
    assert Message.objects.get(pk=result.results[0].id).recipient == api.PHONE
    with pytest.raises(SendException) as refused:
        Client(domain(live_server), username=credential.key_id, password="wrong").sms.send(to=api.PHONE, message="Hi")
    assert refused.value.code == 101


def test_an_access_token_from_the_token_endpoint(live_server, owner):
    _, secret = api.make_token(owner)
    issued = rest(live_server, "/api/v1/auth/token", secret, "post", json={"ttl": 600, "scopes": ["balance:read"]})
    access = issued.json()["access_token"]
    client = Client(domain(live_server), access_token=access)
    assert client.account.balance().points == 100.0
    with pytest.raises(SendException) as refused:  # the access token holds balance:read only
        client.sms.send(to=api.PHONE, message="Hi")
    assert refused.value.code == 101
    assert "messages:send" in refused.value.message
    rest(live_server, f"/api/v1/auth/token/{issued.json()['id']}", secret, "delete")
    with pytest.raises(EndpointException) as revoked:
        client.account.balance()
    assert revoked.value.code == 101


def test_error_codes_arrive_in_the_body(live_server, owner):
    _, secret = api.make_token(owner)
    client = Client(domain(live_server), access_token=secret)
    with pytest.raises(SendException) as invalid:
        client.sms.send(to=[api.PHONE, "12345"], message="Hi")
    assert invalid.value.code == 13
    assert [(n.number, n.submitted_number) for n in invalid.value.invalid_numbers] == [("12345", "12345")]
    with pytest.raises(SendException) as unknown:
        Client(domain(live_server), access_token="live_000000000000_unknown").sms.send(to=api.PHONE, message="Hi")
    assert unknown.value.code == 101
    Account.objects.filter(pk=owner.membership.account_id).update(balance=0)
    with pytest.raises(SendException) as no_credit:
        client.sms.send(to=api.PHONE, message="Hi")
    assert no_credit.value.code == 103
    with pytest.raises(EndpointException) as manage:
        client.account.create_user(name="sub", password="x", api_password="y")
    assert manage.value.code == 101
    assert not Message.objects.exists()


def test_a_test_key_stays_in_test_mode(live_server, owner):
    _, secret = api.make_token(owner, is_test=True)
    client = Client(domain(live_server), access_token=secret)
    result = client.sms.send(to=[api.PHONE, "+48500100200"], message="Hello", test=True)  # `test` too: kept nothing
    assert result.count == 2
    assert all(sent.id.startswith("test-") for sent in result.results)
    assert not Message.objects.exists()
    result = client.sms.send(to=api.PHONE, message="Hello")
    assert Message.objects.get(pk=result.results[0].id).is_test is True
    assert client.account.balance().points == 100.0
    assert Account.objects.get(pk=owner.membership.account_id).balance == 100


def test_a_scheduled_send_removed_with_the_client(live_server, owner):
    _, secret = api.make_token(owner)
    client = Client(domain(live_server), access_token=secret)
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    result = client.sms.send(to=api.PHONE, message="Later", date=at)  # str(datetime): "2026-… 10:00:00+00:00"
    message_id = result.results[0].id
    assert Message.objects.get(pk=message_id).scheduled_at == at
    removed = client.sms.remove_scheduled(id=message_id)
    assert [item.id for item in removed] == [message_id]
    assert Message.objects.get(pk=message_id).status == "canceled"
    assert client.account.balance().points == 100.0
    with pytest.raises(EndpointException) as again:
        client.sms.remove_scheduled(id=message_id)
    assert again.value.code == 301


def test_an_idx_per_number_and_check_idx_through_the_client(live_server, owner):
    _, secret = api.make_token(owner)
    client = Client(domain(live_server), access_token=secret)
    result = client.sms.send(to=[api.PHONE, "+48500100200"], message="Hi", idx=["order-1", "order-2"], check_idx=True)
    assert [(sent.number, sent.idx) for sent in result.results] == [
        (api.PHONE[1:], "order-1"),
        ("48500100200", "order-2"),
    ]
    with pytest.raises(SendException) as repeated:
        client.sms.send(to=api.PHONE, message="Hi", idx="order-2", check_idx=True)
    assert repeated.value.code == 53
