"""Delivery work a dead process left behind goes out within seconds, not minutes: a worker
SIGKILLed mid-batch and restarted, and a web process that died between its commit and the
publish. Real workers on PostgreSQL, with the Redis broker (the default) and with RabbitMQ."""

import json
import time
from collections import Counter

import pytest

from accounts.models import Account
from messaging import dispatch
from messaging.backends.file import FileBackend
from messaging.models import LedgerEntry, Message
from messaging.services import message_submit
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
FINAL = {"delivered", "undelivered", "failed"}


class GatewayWithLatency(FileBackend):
    """The file backend at a gateway's pace (Kannel answers a sendsms in about 20 ms), so that a
    kill lands in the middle of a batch."""

    def send_messages(self, messages):
        time.sleep(0.02 * len(messages))
        return super().send_messages(messages)


GATEWAY = f"{__name__}.GatewayWithLatency"


def _use_broker(app, url: str, transport_options: dict) -> None:
    """Point this process's Celery app (the commit hook's publishes, the pings) at a broker."""
    app.conf.broker_url = url
    app.conf.broker_transport_options = transport_options
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request, settings):
    """The worker's environment for the broker; this process publishes to the same one."""
    if request.param == "redis":
        yield {}
        return
    from portal.celery import app

    before = (app.conf.broker_url, dict(app.conf.broker_transport_options))
    _use_broker(app, AMQP_URL, {})
    yield {"CELERY_BROKER_URL": AMQP_URL}
    with app.connection_for_write() as connection:  # this run's queue, not left on the server
        connection.default_channel.queue_delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    _use_broker(app, *before)


def send(owner, count: int):
    to = [f"+4474002{i:05d}" for i in range(count)]
    return message_submit(account_id=owner.membership.account_id, user=owner, caller="test", to=to, text="Hello")


def handed_over(path) -> list[str]:
    """The ids the gateway received, once per hand-over."""
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.endswith("}")]


def statuses(batch_id) -> Counter:
    return Counter(Message.objects.filter(batch_id=batch_id).values_list("status", flat=True))


def assert_charged_once(owner, count: int) -> None:
    account = Account.objects.get(pk=owner.membership.account_id)
    assert account.balance == 1000 - count
    assert LedgerEntry.objects.filter(account=account, kind="debit").count() == 1
    assert not LedgerEntry.objects.filter(account=account, kind="refund").exists()


def test_a_killed_worker_s_messages_leave_within_seconds_of_its_restart(broker, worker_factory, funded_owner, tmp_path):
    sms_file = tmp_path / "sms.jsonl"
    worker = worker_factory(SMS_BACKEND=GATEWAY, SMS_FILE_PATH=str(sms_file), **broker)
    result = send(funded_owner, 300)  # three tasks of 100; the worker runs two at a time
    wait_for(lambda: len(handed_over(sms_file)) >= 40, timeout=30, interval=0.05, message="delivery under way")
    worker.kill()  # SIGKILL to the whole process group: no clean-up, no acknowledgement
    in_doubt = Message.objects.filter(batch_id=result.batch_id, status="sending").count()
    stranded = Message.objects.filter(batch_id=result.batch_id, status="queued").count()
    assert stranded > 0, "the batch finished before the kill: nothing was tested"
    time.sleep(2)
    restart = time.monotonic()
    worker.start()  # under the same name, as systemd or a container restart brings it back
    wait_for(
        lambda: set(statuses(result.batch_id)) <= FINAL,
        timeout=30,
        interval=0.2,
        message=f"every message final within 30 s of the restart (now {dict(statuses(result.batch_id))})",
    )
    assert time.monotonic() - restart < 30
    assert statuses(result.batch_id) == {"delivered": 300}
    sent = Counter(handed_over(sms_file))
    assert set(sent) == {str(m.pk) for m in result.messages}  # nothing lost
    twice = {message_id for message_id, count in sent.items() if count > 1}
    flagged = {
        str(pk)
        for pk in Message.objects.filter(batch_id=result.batch_id, possible_duplicate=True).values_list("pk", flat=True)
    }
    assert twice <= flagged  # only a message in flight at the kill may have gone twice, flagged
    assert len(twice) <= in_doubt <= 2  # one per pool process
    assert_charged_once(funded_owner, 300)


def test_messages_a_web_process_saved_but_never_published_leave_within_the_sweep_s_period(
    broker, worker_factory, funded_owner, tmp_path, monkeypatch, settings
):
    sms_file = tmp_path / "sms.jsonl"
    worker_factory(SMS_BACKEND=GATEWAY, SMS_FILE_PATH=str(sms_file), beat=True, **broker)
    # The web process dies between its commit and the publish: the messages are `queued`, no task.
    monkeypatch.setattr(dispatch.dispatcher, "add", lambda ids: None)
    saved = time.monotonic()
    result = send(funded_owner, 20)
    within = settings.SMS_REQUEUE_AFTER.total_seconds()  # 10 s
    wait_for(
        lambda: statuses(result.batch_id) == {"delivered": 20},
        timeout=within + 20,
        interval=0.2,
        message=f"the beat sweep to send them (now {dict(statuses(result.batch_id))})",
    )
    # The promise, with a few seconds for the sweep's round trips and the delivery itself.
    assert time.monotonic() - saved < within + 5
    assert sorted(handed_over(sms_file)) == sorted(str(m.pk) for m in result.messages)  # each once
    assert_charged_once(funded_owner, 20)
