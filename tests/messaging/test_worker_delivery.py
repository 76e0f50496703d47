"""Delivery through a real Celery worker on the Redis broker (the production path)."""

import json
import time

import pytest
from django.db import transaction

from messaging.models import Message
from messaging.services import message_send_test
from messaging.workers import DELIVERY_TASK
from tests.conftest import queued_task_names, wait_for, worker_is_idle

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def sent_lines(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


class Boom(Exception):
    pass


def test_rolled_back_message_is_never_sent_and_committed_one_exactly_once(celery_worker, make_account):
    sms_file = celery_worker
    rolled_back_owner = make_account(phone="+447400900111").memberships.get().user
    committed_owner = make_account(phone="+447400900222").memberships.get().user

    doomed: list[Message] = []

    def send_then_fail() -> None:
        with transaction.atomic():
            doomed.append(message_send_test(user=rolled_back_owner))
            # Still inside the transaction, give a wrongly early enqueue time to show up.
            time.sleep(1.5)
            assert DELIVERY_TASK not in queued_task_names(), "a task was published before the commit"
            raise Boom

    with pytest.raises(Boom):
        send_then_fail()
    [doomed_message] = doomed
    assert not Message.objects.filter(pk=doomed_message.pk).exists()

    message = message_send_test(user=committed_owner)

    wait_for(
        lambda: Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED,
        message="the committed message to be delivered",
    )
    message.refresh_from_db()
    assert message.delivered_at is not None
    assert message.attempts == 1
    lines = sent_lines(sms_file)
    assert [line["id"] for line in lines] == [str(message.pk)]
    assert lines[0]["to"] == "+447400900222"
    assert lines[0]["created_at"].endswith("Z")
    assert str(doomed_message.pk) not in sms_file.read_text()


def test_redelivered_task_does_not_send_twice(celery_worker, make_account):
    """A task delivered again (acks_late after a crash) finds the message already handed over."""
    from messaging.tasks import deliver_messages

    sms_file = celery_worker
    owner = make_account().memberships.get().user
    message = message_send_test(user=owner)
    wait_for(lambda: Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED, message="delivery")

    deliver_messages.delay([str(message.pk)])
    deliver_messages.delay([str(message.pk)])
    wait_for(worker_is_idle, message="the worker to drain its queue")
    ids = [line["id"] for line in sent_lines(sms_file)]
    assert ids.count(str(message.pk)) == 1
