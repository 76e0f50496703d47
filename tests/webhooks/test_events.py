"""Events from the hub to deliveries: messaging publishes its status changes on the real delivery
paths, the subscriber costs nothing for an account without endpoints, a burst is one task, and an
account's events reach only its own endpoints."""

import pytest
from standardwebhooks.webhooks import Webhook

from audit import hub
from messaging.models import Message
from messaging.services import dlr_record, message_deliver, message_fail, message_send_test, message_submit
from tests import api_support as api
from webhooks.models import Delivery
from webhooks.services import (
    deliveries_send,
    endpoint_create,
    endpoint_delete,
    endpoint_index,
    endpoint_set_enabled,
)
from webhooks.services.sending import on_event

pytestmark = pytest.mark.django_db


def submit(owner, to="+447400100001") -> Message:
    result = message_submit(
        account_id=owner.membership.account_id, user=owner, caller=f"user:{owner.pk}", to=[to], text="Hello"
    )
    [message] = result.messages
    return message


def subscribe(owner, receiver, *events: str):
    return endpoint_create(account_id=owner.membership.account_id, url=receiver.url, events=list(events))


def test_a_delivered_message_sends_message_delivered_with_the_messages_api_representation(
    account_owner, receiver, client, queued_tasks, django_capture_on_commit_callbacks
):
    new = subscribe(account_owner, receiver, "message.delivered", "message.failed")
    message = submit(account_owner)
    with django_capture_on_commit_callbacks(execute=True):
        message_deliver(message_ids=[str(message.pk)])  # the locmem gateway reports it delivered
    assert queued_tasks == [str(new.endpoint.pk)]
    deliveries_send(endpoint_id=new.endpoint.pk)

    [request] = receiver.requests
    payload = Webhook(new.secret).verify(request.body, request.headers)
    assert payload["type"] == "message.delivered"
    _, token = api.make_token(account_owner, scopes=["messages:read"])
    as_the_api_answers = client.get(f"/api/v1/messages/{message.pk}", **api.bearer(token)).json()
    assert payload["data"] == as_the_api_answers
    assert payload["data"]["status"] == "delivered"


def test_delivery_reports_publish_sent_delivered_and_undelivered(
    account_owner, receiver, queued_tasks, django_capture_on_commit_callbacks
):
    new = subscribe(account_owner, receiver, "message.sent", "message.delivered", "message.undelivered")
    first, second = submit(account_owner, "+447400100001"), submit(account_owner, "+447400100002")
    Message.objects.filter(pk__in=[first.pk, second.pk]).update(status=Message.Status.SENDING)
    with django_capture_on_commit_callbacks(execute=True):
        dlr_record(message_id=str(first.pk), kannel_status=8)  # accepted by the SMSC: sent
        dlr_record(message_id=str(first.pk), kannel_status=8)  # a replay: nothing new
        dlr_record(message_id=str(first.pk), kannel_status=1)  # delivered
        dlr_record(message_id=str(second.pk), kannel_status=2)  # undelivered
    events = list(Delivery.objects.order_by("id").values_list("event_type", "object_id"))
    assert events == [
        ("message.sent", str(first.pk)),
        ("message.delivered", str(first.pk)),
        ("message.undelivered", str(second.pk)),
    ]
    deliveries_send(endpoint_id=new.endpoint.pk)
    # Each body carries the resource as it is when sent (ordering is not promised; the status is).
    bodies = [Webhook(new.secret).verify(r.body, r.headers) for r in receiver.requests]
    assert [(b["type"], b["data"]["status"]) for b in bodies] == [
        ("message.sent", "delivered"),
        ("message.delivered", "delivered"),
        ("message.undelivered", "undelivered"),
    ]


def test_a_failed_message_publishes_message_failed(account_owner, receiver, django_capture_on_commit_callbacks):
    subscribe(account_owner, receiver, "message.failed")
    message = submit(account_owner)
    with django_capture_on_commit_callbacks(execute=True):
        message_fail(message_id=message.pk, error_code="gateway_rejected")
    assert list(Delivery.objects.values_list("event_type", "object_id")) == [("message.failed", str(message.pk))]


def test_system_messages_publish_nothing(account_owner, receiver, django_capture_on_commit_callbacks):
    subscribe(account_owner, receiver, "message.sent", "message.delivered", "message.failed")
    message = message_send_test(user=account_owner)  # a free system SMS to the user's own phone
    with django_capture_on_commit_callbacks(execute=True):
        message_deliver(message_ids=[str(message.pk)])
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED
    assert not Delivery.objects.exists()


def test_an_account_without_endpoints_costs_no_query_per_event(account_owner, django_assert_num_queries):
    account_id = account_owner.membership.account_id
    endpoint_index(account_id)  # the first look, cached until a change
    with django_assert_num_queries(0):
        for n in range(50):
            on_event(
                hub.Event(action="message.delivered", account_id=account_id, object_type="message", object_id=str(n))
            )
    assert not Delivery.objects.exists()


def test_a_burst_of_events_is_one_task_per_endpoint(
    account_owner, receiver, queued_tasks, django_capture_on_commit_callbacks
):
    new = subscribe(account_owner, receiver, "message.delivered")
    messages = [submit(account_owner, f"+4474001000{n:02d}") for n in range(10)]
    with django_capture_on_commit_callbacks(execute=True):
        message_deliver(message_ids=[str(m.pk) for m in messages])
    assert Delivery.objects.filter(event_type="message.delivered").count() == 10
    assert queued_tasks == [str(new.endpoint.pk)]
    deliveries_send(endpoint_id=new.endpoint.pk)
    assert len(receiver.requests) == 10
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 10


def test_an_accounts_events_reach_only_its_own_enabled_subscribed_endpoints(
    account_owner, make_account, receiver, django_capture_on_commit_callbacks
):
    other = make_account(credit=100).memberships.get().user
    mine = subscribe(account_owner, receiver, "message.delivered")
    subscribe(account_owner, receiver, "message.failed")  # not this event
    theirs = subscribe(other, receiver, "message.delivered")
    with django_capture_on_commit_callbacks(execute=True):
        message_deliver(message_ids=[str(submit(account_owner).pk)])
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [mine.endpoint.pk]

    # The cached index follows changes at once: disabled, deleted, enabled again.
    endpoint_set_enabled(account_id=mine.endpoint.account_id, endpoint_id=mine.endpoint.pk, enabled=False)
    endpoint_delete(account_id=theirs.endpoint.account_id, endpoint_id=theirs.endpoint.pk)
    with django_capture_on_commit_callbacks(execute=True):
        message_deliver(message_ids=[str(submit(account_owner).pk), str(submit(other).pk)])
    assert Delivery.objects.count() == 1
    endpoint_set_enabled(account_id=mine.endpoint.account_id, endpoint_id=mine.endpoint.pk, enabled=True)
    with django_capture_on_commit_callbacks(execute=True):
        message_deliver(message_ids=[str(submit(account_owner).pk)])
    assert Delivery.objects.count() == 2


@pytest.mark.django_db(transaction=True)  # the foreign key is checked when the insert commits
def test_an_endpoint_deleted_behind_the_cached_index_is_skipped(account_owner, receiver, queued_tasks):
    kept = subscribe(account_owner, receiver, "message.delivered")
    gone = subscribe(account_owner, receiver, "message.delivered")
    account_id = account_owner.membership.account_id
    assert len(endpoint_index(account_id)["message.delivered"]) == 2  # cached with both
    type(gone.endpoint).objects.filter(pk=gone.endpoint.pk).delete()  # a raw delete: the index is stale
    on_event(hub.Event(action="message.delivered", account_id=account_id, object_type="message", object_id="x"))
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [kept.endpoint.pk]


def test_the_other_parts_events_arrive_with_their_resources_as_the_api_answers_them(
    account_owner, receiver, client, queued_tasks, django_capture_on_commit_callbacks
):
    """The event contract end to end: an SMS to the account's inbound number (`message.received`),
    its STOP (`opt_out.created`) and an approved verification (`verification.approved`) each reach
    a subscribed endpoint, signed, with `data` equal to what the API answers for that resource."""
    from inbound.services import inbound_number_assign, inbound_receive

    account_id = account_owner.membership.account_id
    new = subscribe(account_owner, receiver, "message.received", "opt_out.created", "verification.approved")
    _, token = api.make_token(account_owner, scopes=["messages:read", "contacts:read", "verify"], is_test=True)
    headers = api.bearer(token)
    inbound_number_assign(number="+447400900500", account_id=account_id)
    with django_capture_on_commit_callbacks(execute=True):
        received = inbound_receive(sender="+447400123456", recipient="+447400900500", text="STOP")
    started = api.post_json(client, "/api/v1/verifications", {"to": "+447400123457"}, **headers).json()
    with django_capture_on_commit_callbacks(execute=True):
        checked = api.post_json(client, f"/api/v1/verifications/{started['id']}/check", {"code": "123456"}, **headers)
    assert checked.json()["status"] == "approved"
    deliveries_send(endpoint_id=new.endpoint.pk)

    payloads = {}
    for request in receiver.requests:
        payload = Webhook(new.secret).verify(request.body, request.headers)
        payloads[payload["type"]] = payload["data"]
    assert set(payloads) == {"message.received", "opt_out.created", "verification.approved"}
    assert payloads["message.received"] == client.get(f"/api/v1/inbound/{received.pk}", **headers).json()
    [opt_out] = client.get("/api/v1/opt-outs", **headers).json()["results"]
    assert payloads["opt_out.created"] == opt_out
    assert payloads["verification.approved"] == client.get(f"/api/v1/verifications/{started['id']}", **headers).json()
