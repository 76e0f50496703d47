"""Signed deliveries to a real receiver on loopback, verified with the `standardwebhooks` package;
retries, give-ups and disabling, with time travel (never sleeps)."""

import itertools
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from audit.models import AuditEvent
from core.errors import Conflict
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import (
    deliveries_due,
    deliveries_send,
    delivery_resend,
    endpoint_create,
    endpoint_rotate,
    endpoint_test,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(account_owner, receiver, queued_tasks):
    new = endpoint_create(
        account_id=account_owner.membership.account_id, url=receiver.url, events=["message.delivered"]
    )
    return new


def send_test(new) -> Delivery:
    delivery = endpoint_test(account_id=new.endpoint.account_id, endpoint_id=new.endpoint.pk)
    deliveries_send(endpoint_id=new.endpoint.pk)
    delivery.refresh_from_db()
    return delivery


def test_a_delivered_webhook_verifies_with_standardwebhooks(endpoint, receiver):
    delivery = send_test(endpoint)

    [request] = receiver.requests
    assert request.path == "/hooks/sms?token=abc123"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["webhook-signature"].startswith("v1,")
    assert " " not in request.headers["webhook-signature"]  # one secret, one signature
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "webhook.test"
    assert payload["timestamp"] == delivery.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert payload["data"] == {
        "id": str(endpoint.endpoint.pk),
        "url": endpoint.endpoint.url,
        "events": ["message.delivered"],
        "enabled": True,
        "created_at": endpoint.endpoint.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert (delivery.status, delivery.attempts) == (Delivery.Status.DELIVERED, 1)
    [attempt] = delivery.attempt_log.all()
    assert (attempt.status_code, attempt.error, attempt.response_excerpt) == (200, "", '{"ok": true}')


def test_the_receiver_refuses_a_tampered_body_a_wrong_secret_and_a_stale_timestamp(endpoint, receiver):
    send_test(endpoint)
    [request] = receiver.requests
    Webhook(endpoint.secret).verify(request.body, request.headers)  # as sent: valid

    tampered = request.body.replace(b'"enabled":true', b'"enabled":false')
    assert tampered != request.body
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(tampered, request.headers)
    other = endpoint_create(account_id=endpoint.endpoint.account_id, url=receiver.url, events=["message.sent"]).secret
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(request.body, request.headers)
    with time_machine.travel(timezone.now() + timedelta(minutes=6)), pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request.body, request.headers)


def test_the_secret_is_encrypted_at_rest(endpoint):
    row = Endpoint.objects.filter(pk=endpoint.endpoint.pk).values().get()
    assert endpoint.secret.startswith("whsec_")
    assert not any(endpoint.secret in str(value) or endpoint.secret[6:] in str(value) for value in row.values())


def test_during_a_rotation_both_secrets_sign_for_24_hours(endpoint, receiver):
    old = endpoint.secret
    new = endpoint_rotate(account_id=endpoint.endpoint.account_id, endpoint_id=endpoint.endpoint.pk).secret
    assert new != old
    send_test(endpoint)
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(request.body, request.headers)
    assert Webhook(new).verify(request.body, request.headers)

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        send_test(endpoint)
        request = receiver.requests[-1]
        assert len(request.headers["webhook-signature"].split(" ")) == 1
        assert Webhook(new).verify(request.body, request.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(request.body, request.headers)
    assert AuditEvent.objects.filter(action="webhook.secret_rotated", object_id=str(endpoint.endpoint.pk)).exists()


def test_500_then_200_is_delivered_once_with_two_attempts_logged(endpoint, receiver):
    receiver.answer(500, b"oops")
    delivery = send_test(endpoint)
    assert (delivery.status, delivery.attempts) == (Delivery.Status.PENDING, 1)
    assert delivery.next_attempt_at > timezone.now()

    deliveries_send(endpoint_id=endpoint.endpoint.pk)  # not due yet: nothing is sent
    assert len(receiver.requests) == 1

    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
        deliveries_send(endpoint_id=endpoint.endpoint.pk)
        deliveries_send(endpoint_id=endpoint.endpoint.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.DELIVERED, 2)
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 200]
    assert delivery.attempt_log.first().response_excerpt == "oops"
    # The same event both times: one webhook-id, both signed.
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.webhook_id}
    assert len(receiver.requests) == 2


def test_an_answer_holding_a_nul_byte_is_logged_not_a_crash(endpoint, receiver):
    """PostgreSQL cannot store a NUL in text: the attempt's excerpt shows it replaced, and the
    delivery is recorded like any other (it was retried forever, unlogged, before)."""
    receiver.answer(200, b"ok\x00done")
    delivery = send_test(endpoint)
    assert (delivery.status, delivery.attempts) == (Delivery.Status.DELIVERED, 1)
    [attempt] = delivery.attempt_log.all()
    assert attempt.response_excerpt == "ok\ufffddone"


def test_a_410_disables_the_endpoint_audited_and_the_owner_is_emailed(
    endpoint, receiver, account_owner, django_capture_on_commit_callbacks
):
    receiver.answer(410, b"gone")
    with django_capture_on_commit_callbacks(execute=True):
        delivery = send_test(endpoint)
    assert delivery.status == Delivery.Status.FAILED
    endpoint.endpoint.refresh_from_db()
    assert not endpoint.endpoint.enabled
    assert "410" in endpoint.endpoint.disabled_reason
    event = AuditEvent.objects.get(action="webhook.disabled", object_id=str(endpoint.endpoint.pk))
    assert "410" in event.data["reason"]
    assert "token" not in event.data["url"]  # the URL's query (the receiver's own token) stays out
    [email] = [m for m in mail.outbox if "webhook" in m.subject.lower()]
    assert email.to == [account_owner.email]
    assert "abc123" not in email.body
    # A disabled endpoint gets no further events, and cannot be tested.
    with pytest.raises(Conflict, match="disabled"):
        endpoint_test(account_id=endpoint.endpoint.account_id, endpoint_id=endpoint.endpoint.pk)


def test_a_receiver_that_never_answers_is_retried_then_failed(endpoint, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.hang.set()
    delivery = send_test(endpoint)
    [attempt] = delivery.attempt_log.all()
    assert (attempt.status_code, attempt.error) == (None, "timeout")
    assert delivery.status == Delivery.Status.PENDING

    start = timezone.now()
    moment = start
    while delivery.status == Delivery.Status.PENDING:
        assert delivery.next_attempt_at is not None
        moment = delivery.next_attempt_at + timedelta(seconds=1)
        with time_machine.travel(moment):
            deliveries_send(endpoint_id=endpoint.endpoint.pk)
        delivery.refresh_from_db()
        assert delivery.attempts < 30
    assert delivery.status == Delivery.Status.FAILED
    assert moment - start <= timedelta(hours=24)
    assert moment - start >= timedelta(hours=12)  # retried for most of a day, backing off
    attempts = list(delivery.attempt_log.all())
    waits = [b.created_at - a.created_at for a, b in itertools.pairwise(attempts)]
    assert waits[-1] > waits[0] * 8  # exponential
    assert all(a.error == "timeout" for a in attempts)


def test_an_endpoint_failing_for_three_days_is_disabled(endpoint, receiver):
    start = timezone.now()
    receiver.default = (503, b"")
    for day in range(4):
        with time_machine.travel(start + timedelta(days=day, hours=day // 3)):
            endpoint_test(account_id=endpoint.endpoint.account_id, endpoint_id=endpoint.endpoint.pk)
            deliveries_send(endpoint_id=endpoint.endpoint.pk)
        endpoint.endpoint.refresh_from_db()
        assert endpoint.endpoint.enabled == (day < 3), day
    assert "3 days" in endpoint.endpoint.disabled_reason
    assert AuditEvent.objects.filter(action="webhook.disabled").count() == 1


def test_a_success_clears_the_failing_streak(endpoint, receiver):
    receiver.answer(503)
    send_test(endpoint)
    endpoint.endpoint.refresh_from_db()
    assert endpoint.endpoint.failing_since is not None
    Delivery.objects.update(status=Delivery.Status.FAILED)  # only the next test event goes out
    send_test(endpoint)
    endpoint.endpoint.refresh_from_db()
    assert endpoint.endpoint.failing_since is None


def test_resend_sends_the_same_event_again(endpoint, receiver):
    delivery = send_test(endpoint)
    resent = delivery_resend(account_id=endpoint.endpoint.account_id, delivery_id=delivery.pk)
    assert resent.status == Delivery.Status.PENDING
    deliveries_send(endpoint_id=endpoint.endpoint.pk)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.webhook_id] * 2
    assert Attempt.objects.filter(delivery=delivery).count() == 2


def test_the_beat_job_fails_what_is_past_its_day_and_kicks_what_is_due(
    endpoint, receiver, queued_tasks, django_capture_on_commit_callbacks
):
    delivery = endpoint_test(account_id=endpoint.endpoint.account_id, endpoint_id=endpoint.endpoint.pk)
    later = timezone.now() + timedelta(minutes=3)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert deliveries_due() == 1
        assert deliveries_due() == 1  # kicked again: no second task while the first is queued
    assert queued_tasks == [str(endpoint.endpoint.pk)]
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        deliveries_due()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert receiver.requests == []
