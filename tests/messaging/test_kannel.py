"""Delivery through the real gateway: Celery worker → Kannel smsbox/bearerbox → fake SMSC, and
delivery reports back over HTTP to the portal (pytest-django's live server)."""

import time

import pytest
from django.db.models import Sum

from accounts.models import Account
from messaging.models import LedgerEntry, Message, MessageEvent
from messaging.services import message_submit
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+4474001{i:05d}" for i in range(start, start + n)]


def statuses(batch_id) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Message.objects.filter(batch_id=batch_id).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def submit(owner, to, text="Hello from the test suite"):
    return message_submit(account_id=owner.membership.account_id, user=owner, caller="test", to=to, text=text)


def test_two_hundred_messages_are_delivered_through_kannel_with_real_reports(kannel_worker, kannel, funded_owner):
    kannel_worker()
    result = submit(funded_owner, numbers(200), text="Zażółć gęślą jaźń €")  # UCS-2 through the gateway
    wait_for(
        lambda: statuses(result.batch_id) == {"delivered": 200},
        timeout=120,
        interval=0.5,
        message=f"all 200 delivered (now {statuses(result.batch_id)})",
    )
    received = kannel.received()
    assert len(received) == 200
    assert set(kannel.received_by_receiver().values()) == {1}  # each exactly once
    assert received[0][2] == "Zażółć gęślą jaźń €"
    message = Message.objects.filter(batch_id=result.batch_id).first()
    assert message.sent_at is not None
    assert message.delivered_at is not None
    history = list(MessageEvent.objects.filter(message=message).values_list("status", flat=True))
    assert history[-1] == "delivered"
    account = Account.objects.get(pk=funded_owner.membership.account_id)
    assert account.balance == 800
    assert LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] == account.balance


def test_kannel_down_during_a_batch_retries_and_delivers_once(kannel_worker, kannel, funded_owner):
    kannel.stop("smsbox")  # the HTTP side is gone: every hand-over fails with a connection error
    kannel_worker()
    result = submit(funded_owner, numbers(20, start=500))
    wait_for(  # claimed, refused (the error code of its connection error) and put back
        lambda: Message.objects.filter(batch_id=result.batch_id).exclude(error_code="").count() == 20,
        timeout=60,
        message="every message tried once",
    )
    assert statuses(result.batch_id) == {"queued": 20}  # back in the queue, not failed, not charged twice
    # A hand-over that provably never reached Kannel is no hand-over in doubt for the watchdog.
    assert set(Message.objects.filter(batch_id=result.batch_id).values_list("attempts", flat=True)) == {0}
    kannel.start_smsbox()
    wait_for(
        lambda: statuses(result.batch_id) == {"delivered": 20},
        timeout=120,
        interval=0.5,
        message=f"delivery after Kannel came back (now {statuses(result.batch_id)})",
    )
    assert set(kannel.received_by_receiver().values()) == {1}
    assert len(kannel.received()) == 20
    account = Account.objects.get(pk=funded_owner.membership.account_id)
    assert account.balance == 980
    assert LedgerEntry.objects.filter(account=account, kind="debit").count() == 1
    assert not LedgerEntry.objects.filter(account=account, kind="refund").exists()


def test_worker_killed_mid_batch_every_message_ends_final_and_reaches_the_smsc_once(
    kannel_worker, kannel, funded_owner
):
    worker = kannel_worker(concurrency=1)
    result = submit(funded_owner, numbers(150, start=900))
    wait_for(lambda: len(kannel.received()) >= 20, timeout=60, message="the batch to be under way")
    worker.kill()  # SIGKILL to the whole worker: no clean-up, its unacknowledged task is stranded
    in_doubt = Message.objects.filter(batch_id=result.batch_id, status="sending").count()
    assert in_doubt <= 1  # claimed right before, recorded right after: at most one in doubt
    restart = time.monotonic()
    worker.start()  # under the same name: its start sweeps up what the killed one held
    wait_for(
        lambda: set(statuses(result.batch_id)) <= {"delivered", "undelivered", "failed"},
        timeout=30,
        interval=0.5,
        message=f"every message final within 30 s of the restart (now {statuses(result.batch_id)})",
    )
    assert time.monotonic() - restart < 30
    assert statuses(result.batch_id) == {"delivered": 150}
    counts = kannel.received_by_receiver()
    sent_twice = {number for number, count in counts.items() if count > 1}
    flagged = set(
        Message.objects.filter(batch_id=result.batch_id, possible_duplicate=True).values_list("recipient", flat=True)
    )
    assert sent_twice <= flagged  # only a message in doubt may have gone twice, and it is flagged
    assert len(sent_twice) <= in_doubt
    assert set(counts) == set(numbers(150, start=900))
    account = Account.objects.get(pk=funded_owner.membership.account_id)
    assert account.balance == 850
