"""End to end through a real Celery worker on the Redis broker: an API send, its delivery by the
worker, the `message.delivered` event published there, and the signed webhook the worker posts to
the receiver."""

import pytest
from standardwebhooks.webhooks import Webhook

from messaging.models import Message
from tests import api_support as api
from tests.conftest import wait_for
from webhooks.models import Delivery
from webhooks.services import endpoint_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_message_sent_through_the_api_reaches_the_receiver_as_a_signed_webhook(
    celery_worker, make_account, receiver, client
):
    owner = make_account(credit=100).memberships.get().user
    new = endpoint_create(account_id=owner.membership.account_id, url=receiver.url, events=["message.delivered"])
    _, token = api.make_token(owner, scopes=["messages:send", "messages:read"])
    sent = api.post_json(client, "/api/v1/messages", {"to": "+447400123456", "text": "Hello"}, **api.bearer(token))
    assert sent.status_code == 202, sent.content
    [message] = sent.json()["messages"]

    wait_for(lambda: receiver.requests, message="the webhook to reach the receiver")
    [request] = receiver.requests
    payload = Webhook(new.secret).verify(request.body, request.headers)
    assert payload["type"] == "message.delivered"
    assert payload["data"] == client.get(f"/api/v1/messages/{message['id']}", **api.bearer(token)).json()
    assert Message.objects.get(pk=message["id"]).status == Message.Status.DELIVERED
    wait_for(
        lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).count() == 1,
        message="the delivery to be recorded as delivered",
    )
    assert Delivery.objects.get().attempt_log.get().status_code == 200
