"""The recovery sweep's rules, given what the live workers answered: a `queued` message no live
worker holds goes back to the queue once it has waited half of SMS_REQUEUE_AFTER before the
sweep's barrier; a claim of a process that is provably gone goes back flagged at once; a claim
of a worker that did not answer waits for the watchdog; a security code is never sent twice."""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from celery.worker import state as worker_state
from django.utils import timezone

from messaging import workers
from messaging.models import Message, MessageEvent, PriceRule
from messaging.services import message_send_system, message_submit, messages_requeue_stale, recovery
from messaging.workers import Holdings

pytestmark = pytest.mark.django_db

HOST = "celery@delivery-1"


@pytest.fixture
def requeued(monkeypatch):
    ids: list[str] = []
    monkeypatch.setattr(recovery, "enqueue_delivery", lambda message_ids, **_how: ids.extend(map(str, message_ids)))
    return ids


@pytest.fixture
def five(owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    to = [f"+44740010000{i}" for i in range(5)]
    result = message_submit(account_id=owner.membership.account_id, user=owner, caller="t", to=to, text="Hi")
    return [str(m.pk) for m in result.messages]


def waiting_since(ids, seconds_ago: float, **values) -> None:
    Message.objects.filter(pk__in=ids).update(created_at=timezone.now() - timedelta(seconds=seconds_ago), **values)


def answered(*processes: str, messages=(), workers_=(HOST,)) -> Holdings:
    return Holdings(frozenset(messages), frozenset(processes), frozenset(workers_))


def test_queued_messages_no_live_worker_holds_go_back_and_the_held_and_the_fresh_stay(five, requeued, settings):
    settings.SMS_REQUEUE_SWEEP = timedelta(seconds=5)
    waiting_since(five[:4], 6)  # lost, held by a live worker, retried with a task held, lost
    waiting_since(five[4:], 4)  # queued too recently: its publish may still be on its way
    Message.objects.filter(pk=five[2]).update(sending_started_at=timezone.now() - timedelta(seconds=30))
    held = answered(messages=[five[1], five[2]])
    assert messages_requeue_stale(barrier=timezone.now(), holdings=held) == 2
    assert sorted(requeued) == sorted([five[0], five[3]])


def test_the_sweep_counts_from_its_barrier_not_from_when_it_runs(five, requeued, settings):
    """A sweep that waited in a busy queue looks only at what was queued well before it was sent:
    what came after may still have its task in the queue behind it."""
    settings.SMS_REQUEUE_SWEEP = timedelta(seconds=5)
    waiting_since(five, 8)
    assert messages_requeue_stale(barrier=timezone.now() - timedelta(seconds=4), holdings=answered()) == 0
    assert messages_requeue_stale(barrier=timezone.now() - timedelta(seconds=2), holdings=answered()) == 5


def claimed(ids, tag: str, seconds_ago: float = 30, attempts: int = 1) -> None:
    Message.objects.filter(pk__in=ids).update(
        status=Message.Status.SENDING,
        claimed_by=tag,
        attempts=attempts,
        sending_started_at=timezone.now() - timedelta(seconds=seconds_ago),
    )


def test_a_claim_of_a_process_that_is_gone_goes_back_flagged_at_once(five, requeued):
    claimed(five[:1], f"old-boot 7 {HOST}")  # the worker restarted under the same name
    claimed(five[1:2], f"boot-1 12 {HOST}")  # a pool child that died, its worker alive
    claimed(five[2:3], f"boot-1 11 {HOST}")  # alive: its gateway call is taking a while
    claimed(five[3:4], "boot-9 7 celery@delivery-2")  # a worker that did not answer: proves nothing
    claimed(five[4:], "boot-2 5 ")  # claimed outside any worker
    live = answered(f"boot-1 10 {HOST}", f"boot-1 11 {HOST}")
    assert messages_requeue_stale(barrier=timezone.now(), holdings=live) == 2
    assert sorted(requeued) == sorted(five[:2])
    statuses = dict(Message.objects.filter(pk__in=five).values_list("pk", "status"))
    assert [statuses[Message._meta.pk.to_python(i)] for i in five] == ["queued", "queued"] + ["sending"] * 3
    assert set(Message.objects.filter(pk__in=five[:2]).values_list("possible_duplicate", flat=True)) == {True}
    assert MessageEvent.objects.filter(message_id__in=five[:2], detail=recovery.WORKER_GONE).count() == 2


def test_a_fresh_claim_of_a_process_that_is_gone_waits_until_the_barrier_s_margin(five, requeued, settings):
    """As with a queued message, a claim made just before the barrier is left to the next sweep
    (a delivery report of the hand-over may still come)."""
    settings.SMS_REQUEUE_SWEEP = timedelta(seconds=5)
    claimed(five[:1], f"old-boot 7 {HOST}", seconds_ago=2)
    assert messages_requeue_stale(barrier=timezone.now(), holdings=answered(f"boot-1 10 {HOST}")) == 0
    later = answered(messages=five[1:])  # the rest of the batch: held by a live worker
    assert messages_requeue_stale(barrier=timezone.now() + timedelta(seconds=5), holdings=later) == 1
    assert requeued == five[:1]


def test_a_security_code_a_dead_process_left_in_doubt_is_failed_not_sent_again(owner, requeued):
    code = message_send_system(
        account=owner.membership.account, user=owner, to="+447400100001", text="123456 is your code", sensitive=True
    )
    claimed([code.pk], f"old-boot 7 {HOST}")
    assert messages_requeue_stale(barrier=timezone.now(), holdings=answered(f"new-boot 7 {HOST}")) == 1
    code.refresh_from_db()
    assert (code.status, code.error_code, requeued) == (Message.Status.FAILED, recovery.HANDOVER_UNKNOWN, [])


def test_a_lost_security_code_past_its_life_is_failed_and_one_within_it_goes_back(owner, requeued, settings):
    """Its life is the longest a code lives (a Verify code's 10 minutes; a sign-in code's 5): which
    kind a message holds is not recorded, and failing a live Verify code would lose it."""
    settings.OTP_SMS_CODE_VALIDITY = timedelta(minutes=5)
    settings.VERIFY_CODE_VALIDITY = timedelta(minutes=10)
    expired, alive = (
        message_send_system(account=owner.membership.account, user=owner, to=to, text="731946", sensitive=True)
        for to in ("+447400100001", "+447400100002")
    )
    waiting_since([expired.pk], 11 * 60)
    waiting_since([alive.pk], 6 * 60)  # past a sign-in code's life, within a Verify code's
    assert messages_requeue_stale(barrier=timezone.now(), holdings=answered()) == 2
    assert requeued == [str(alive.pk)]
    expired.refresh_from_db()
    assert (expired.status, expired.error_code) == (Message.Status.FAILED, recovery.CODE_EXPIRED)


def test_a_worker_reports_the_messages_its_delivery_tasks_hold_and_its_processes(monkeypatch):
    requests = {
        "t1": SimpleNamespace(name=workers.DELIVERY_TASK, args=[["m1", "m2"]]),  # running or waiting
        "t2": SimpleNamespace(name=workers.DELIVERY_TASK, args=[["m3"]]),  # a retry's countdown
        "t3": SimpleNamespace(name="accounts.tasks.send_notice_email", args=[]),
    }
    monkeypatch.setattr(worker_state, "requests", requests)
    state = SimpleNamespace(consumer=SimpleNamespace(pool=SimpleNamespace(info={"processes": [101, 102]})))
    answer = workers.delivery_holdings(state)
    assert answer["messages"] == ["m1", "m2", "m3"]
    assert answer["pids"][1:] == [101, 102]
    tag = workers.claim_tag()  # this process, outside a worker: no name
    assert tag.split(" ")[:2] == [answer["boot"], str(answer["pids"][0])]


def test_a_claim_is_provably_orphaned_only_when_its_worker_answered_without_it():
    live = answered(f"b1 10 {HOST}")
    assert live.claim_is_orphaned(f"b0 10 {HOST}")
    assert not live.claim_is_orphaned(f"b1 10 {HOST}")
    assert not live.claim_is_orphaned("b0 10 celery@elsewhere")
    assert not live.claim_is_orphaned("b0 10 ")
    assert not live.claim_is_orphaned("")


def test_the_sweep_first_goes_to_the_back_of_the_queue(monkeypatch):
    """Started by beat or by a worker, the task sends itself on with the time it does so, and
    only that copy, its barrier behind every task sent before, looks at the messages."""
    from messaging import tasks

    sent, swept = [], []
    monkeypatch.setattr(tasks.requeue_stale_messages, "apply_async", lambda **options: sent.append(options))
    monkeypatch.setattr(tasks.workers, "live_holdings", lambda app: answered())
    monkeypatch.setattr(tasks.services, "messages_requeue_stale", lambda **kwargs: swept.append(kwargs) or 0)
    tasks.requeue_stale_messages.apply()
    [options] = sent
    assert swept == []
    tasks.requeue_stale_messages.apply(kwargs=options["kwargs"])
    [sweep] = swept
    assert abs((timezone.now() - sweep["barrier"]).total_seconds()) < 5


def test_a_hand_over_whose_answer_never_came_is_not_resent_when_its_worker_restarts(owner, monkeypatch, requeued):
    """The worker lived to hear nothing (a read timeout): the message waits in `sending` for a
    delivery report or the watchdog's grace period, not for the sweep's fast path, which is for a
    worker killed mid-hand-over. Otherwise a routine restart would send it twice."""
    from messaging.services import delivery
    from tests.messaging.support import stuck_in_doubt

    monkeypatch.setattr(delivery, "claim_tag", lambda: f"old-boot 7 {HOST}")
    message = stuck_in_doubt(owner, monkeypatch)
    message.refresh_from_db()
    assert message.status == Message.Status.SENDING
    restarted = answered(f"new-boot 7 {HOST}")  # the same worker, started again
    assert messages_requeue_stale(barrier=timezone.now(), holdings=restarted) == 0
    assert requeued == []
    message.refresh_from_db()
    assert (message.status, message.possible_duplicate) == (Message.Status.SENDING, False)
