"""Celery's soft time limit can land anywhere in a delivery batch, and a failed attempt's backoff
is not cut short by the recovery sweep that re-enqueues lost work, which never sends a security
code past its life."""

from datetime import timedelta
from decimal import Decimal

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from messaging import sql
from messaging.backends import SendResult
from messaging.models import Message, PriceRule
from messaging.services import (
    delivery,
    message_deliver,
    message_send_system,
    message_submit,
    messages_requeue_stale,
    recovery,
)
from messaging.workers import Holdings

pytestmark = pytest.mark.django_db


class Gateway:
    def __init__(self, status="sent", retryable=False):
        self.sent: list[str] = []
        self.status, self.retryable = status, retryable

    def send_messages(self, messages):
        self.sent += [m.to for m in messages]
        return [SendResult(id=m.id, status=self.status, provider_id="p1", retryable=self.retryable) for m in messages]


@pytest.fixture
def three(owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    result = message_submit(
        account_id=owner.membership.account_id,
        user=owner,
        caller="t",
        to=["+447400100001", "+447400100002", "+447400100003"],
        text="Hi",
    )
    return [str(m.pk) for m in result.messages]


@pytest.fixture
def requeued(monkeypatch):
    """The ids put back in the queue as new tasks (never tried: they spend no retry)."""
    ids: list[str] = []
    for module in (delivery, recovery):  # delivery's retries and recovery's beat jobs
        monkeypatch.setattr(
            module, "enqueue_delivery", lambda message_ids, **_how: ids.extend(str(i) for i in message_ids)
        )
    return ids


def statuses(ids):
    found = dict(Message.objects.filter(pk__in=ids).values_list("pk", "status"))
    return [found[Message._meta.pk.to_python(i)] for i in ids]


def interrupt_once(monkeypatch, name):
    """The soft limit lands during the first call of delivery.<name>, after it did its work."""
    real = getattr(delivery, name)
    calls = []

    def wrapper(*args, **kwargs):
        value = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise SoftTimeLimitExceeded()
        return value

    monkeypatch.setattr(delivery, name, wrapper)


def test_a_limit_while_recording_a_hand_over_still_records_it(three, monkeypatch, requeued):
    gateway = Gateway()
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    interrupt_once(monkeypatch, "message_record_result")
    retry = message_deliver(message_ids=three)
    # It left: recorded as sent (left `sending`, the watchdog would have sent it again).
    assert statuses(three) == ["sent", "queued", "queued"]
    assert (retry, requeued) == ([], three[1:])
    assert gateway.sent == ["+447400100001"]


def test_a_limit_after_a_retryable_failure_still_puts_it_back(three, monkeypatch, requeued):
    monkeypatch.setattr(delivery, "get_backend", lambda: Gateway(status="failed", retryable=True))
    interrupt_once(monkeypatch, "message_record_result")
    assert message_deliver(message_ids=three) == three[:1]  # tried: it waits for the retry's backoff
    assert requeued == three[1:]  # never tried: a new task at once
    assert statuses(three) == ["queued", "queued", "queued"]


def test_a_limit_before_the_hand_over_puts_the_message_back(three, monkeypatch, requeued):
    gateway = Gateway()
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    real_claim = delivery.message_claim
    claims = []

    def claim(message_id, **kwargs):
        claims.append(message_id)
        if len(claims) == 2:
            raise SoftTimeLimitExceeded()  # before its UPDATE ran
        return real_claim(message_id, **kwargs)

    monkeypatch.setattr(delivery, "message_claim", claim)
    retry = message_deliver(message_ids=three)
    assert statuses(three) == ["sent", "queued", "queued"]
    assert (retry, requeued) == ([], three[1:])
    assert gateway.sent == ["+447400100001"]


def test_a_limit_during_the_gateway_call_leaves_the_message_in_doubt(three, monkeypatch, requeued):
    class Slow:
        def send_messages(self, messages):
            raise SoftTimeLimitExceeded()

    monkeypatch.setattr(delivery, "get_backend", lambda: Slow())
    assert (message_deliver(message_ids=three), requeued) == ([], three[1:])
    # It may have left: a delivery report or the watchdog settles it, never a blind resend.
    assert statuses(three) == ["sending", "queued", "queued"]


def test_a_limit_while_reading_the_batch_puts_it_all_back(three, monkeypatch, requeued):
    class Interrupted:
        def filter(self, *args, **kwargs):
            raise SoftTimeLimitExceeded()

    monkeypatch.setattr(delivery.Message, "objects", Interrupted())
    assert (message_deliver(message_ids=three), requeued) == ([], three)


def test_the_recovery_sweep_leaves_a_retry_a_live_worker_holds_for_its_backoff(three, monkeypatch):
    monkeypatch.setattr(delivery, "get_backend", lambda: Gateway(status="failed", retryable=True))
    assert message_deliver(message_ids=three[:1]) == three[:1]  # tried, put back, retry on its way
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk__in=three).update(created_at=long_ago)
    Message.objects.filter(pk=three[0]).update(sending_started_at=long_ago)
    # A live worker holds the retry's countdown: only the two never tried are lost work ...
    retry_held = Holdings(messages=frozenset(three[:1]))
    assert messages_requeue_stale(barrier=timezone.now(), holdings=retry_held) == 2
    # ... unless no live worker holds that retry either (its worker died).
    assert messages_requeue_stale(barrier=timezone.now(), holdings=Holdings()) == 3


def test_the_recovery_sweep_fails_a_security_code_past_its_life_and_requeues_one_within_it(
    owner, settings, monkeypatch, requeued
):
    # Codes live longer than the sweep waits here, so a code it finds may still be alive.
    settings.OTP_SMS_CODE_VALIDITY = timedelta(minutes=10)
    gateway = Gateway()
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    account = owner.membership.account
    expired, alive = (
        message_send_system(account=account, user=owner, to=to, text="731946 is your code", sensitive=True)
        for to in ("+447400100001", "+447400100002")
    )
    requeued.clear()  # each code's own task, published at its commit
    now = timezone.now()
    Message.objects.filter(pk=expired.pk).update(created_at=now - timedelta(minutes=11))
    Message.objects.filter(pk=alive.pk).update(created_at=now - timedelta(minutes=6))
    assert messages_requeue_stale(barrier=now, holdings=Holdings()) == 2
    assert requeued == [str(alive.pk)]
    expired.refresh_from_db()
    assert (expired.status, expired.error_code) == (Message.Status.FAILED, recovery.CODE_EXPIRED)
    assert expired.text == delivery.REDACTED_TEXT
    # A task of the code's that was on its way after all sends only the live one.
    assert message_deliver(message_ids=[str(expired.pk), str(alive.pk)]) == []
    assert gateway.sent == ["+447400100002"]


def test_a_task_is_held_unacknowledged_for_less_than_the_brokers_visibility_timeout(settings):
    """Redis hands a task out again once a worker has held it this long: no live task may be held
    longer (a retry's countdown, then its run), or it would run twice while alive."""
    from accounts.tasks import EMAIL_RETRY_BACKOFF_MAX_SECONDS
    from messaging.tasks import MAX_RETRIES, backoff_seconds

    longest_countdown = max(
        EMAIL_RETRY_BACKOFF_MAX_SECONDS,
        max(backoff_seconds(n) for n in range(MAX_RETRIES + 1) for _ in range(50)),
    )
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert longest_countdown + settings.CELERY_TASK_TIME_LIMIT < visibility <= 15 * 60


@pytest.mark.parametrize("native", [True, False], ids=["postgresql", "orm"])
def test_a_message_that_leaves_after_a_retry_loses_the_retry_s_error_code(three, monkeypatch, native):
    monkeypatch.setattr(sql, "native", lambda: native)

    class Busy:
        def send_messages(self, messages):
            return [
                SendResult(id=m.id, status="failed", error_code="gateway_http_503", retryable=True) for m in messages
            ]

    monkeypatch.setattr(delivery, "get_backend", lambda: Busy())
    message_deliver(message_ids=three[:1])
    assert Message.objects.get(pk=three[0]).error_code == "gateway_http_503"
    monkeypatch.setattr(delivery, "get_backend", lambda: Gateway())
    message_deliver(message_ids=three[:1])
    message = Message.objects.get(pk=three[0])
    assert (message.status, message.error_code) == ("sent", "")


def test_past_its_deadline_a_batch_claims_nothing_more_and_hands_the_rest_to_a_new_task(three, monkeypatch, requeued):
    """Celery's thread pool (the README's delivery workers) enforces no time limit: the batch
    bounds itself."""
    clock = [100.0]
    monkeypatch.setattr(delivery.time, "monotonic", lambda: clock[0])

    class Slow(Gateway):
        def send_messages(self, messages):
            clock[0] += 30  # each hand-over takes 30 s
            return super().send_messages(messages)

    gateway = Slow()
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    assert message_deliver(message_ids=three, deadline=clock[0] + 45) == []
    assert gateway.sent == ["+447400100001", "+447400100002"]  # the second started before the deadline
    assert requeued == three[2:]
    assert statuses(three) == ["sent", "sent", "queued"]
    # However late, a batch always hands over its first message: every task makes progress.
    assert message_deliver(message_ids=three[2:], deadline=0) == []
    assert statuses(three) == ["sent", "sent", "sent"]


def test_the_delivery_task_sets_its_deadline(monkeypatch, settings):
    from messaging import tasks

    seen = {}
    monkeypatch.setattr(tasks.services, "message_deliver", lambda **kwargs: seen.update(kwargs) or [])
    monkeypatch.setattr(tasks.time, "monotonic", lambda: 1000.0)
    settings.SMS_DELIVERY_BATCH_SECONDS = 40
    tasks.deliver_messages.apply(args=[["x"]])
    assert seen == {"message_ids": ["x"], "deadline": 1040.0}


def test_a_suspended_account_s_messages_are_held_not_sent(three, owner, monkeypatch):
    """Suspension stops what is already queued or scheduled (weeks ahead, perhaps): held for
    staff, who release them after reactivation or reject them (refunded). Sign-in codes still go."""
    from accounts.models import Account
    from messaging.models import MessageEvent
    from messaging.services import message_send_system, messages_release_due, messages_review

    gateway = Gateway()
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    account = owner.membership.account
    Message.objects.filter(pk=three[2]).update(status="scheduled", scheduled_at=timezone.now() - timedelta(seconds=1))
    code = message_send_system(account=account, user=owner, to="+447400100009", text="123456", sensitive=True)
    Account.objects.filter(pk=account.pk).update(status=Account.Status.SUSPENDED)
    assert message_deliver(message_ids=[*three[:2], str(code.pk)]) == []
    assert messages_release_due() == 1
    assert statuses(three) == ["held", "held", "held"]
    assert set(Message.objects.filter(pk__in=three).values_list("error_code", flat=True)) == {"account_suspended"}
    assert MessageEvent.objects.filter(message_id__in=three, status="held").count() == 3
    assert gateway.sent == ["+447400100009"]  # only the sign-in code
    # Active again, staff release them and they leave.
    Account.objects.filter(pk=account.pk).update(status=Account.Status.ACTIVE)
    assert messages_review(message_ids=three, release=True, actor=None) == 3
    assert message_deliver(message_ids=three) == []
    assert statuses(three) == ["sent", "sent", "sent"]
