"""Delivery work gathered per web process and published in batches (messaging/dispatch.py)."""

import threading
import time

import pytest
from django.test import Client

from messaging import dispatch
from messaging.dispatch import DELIVERY_BATCH, Dispatcher
from messaging.models import Message
from messaging.services import delivery, message_send_system, message_submit
from tests.api_support import bearer, make_token
from tests.conftest import wait_for


@pytest.fixture
def published(monkeypatch):
    calls: list[list[str]] = []
    lock = threading.Lock()

    def record(ids):
        with lock:
            calls.append(list(ids))

    monkeypatch.setattr(dispatch, "publish", record)
    return calls


def test_ids_of_several_commits_go_out_in_one_publish(settings, published):
    settings.SMS_DISPATCH_INTERVAL = 0.5
    dispatcher = Dispatcher()
    started = time.monotonic()
    dispatcher.add(["a"])  # after a quiet spell: at once
    wait_for(lambda: published, timeout=5, interval=0.01, message="the first id to be published")
    assert time.monotonic() - started < 0.4, "not held for the interval"
    assert published == [["a"]]
    dispatcher.add(["b"])  # within the interval after that publish: gathered
    dispatcher.add(["c", "d"])
    dispatcher.add(["e"])
    assert published == [["a"]], "nothing more is published before the interval ends"
    wait_for(lambda: len(published) == 2, timeout=5, message="the gathered ids to be published")
    time.sleep(0.6)
    assert published == [["a"], ["b", "c", "d", "e"]]

    # After a quiet spell longer than the interval, the next id goes at once again.
    started = time.monotonic()
    dispatcher.add(["f"])
    wait_for(lambda: len(published) == 3, timeout=5, interval=0.01, message="the third batch")
    assert published[2] == ["f"]
    assert time.monotonic() - started < 0.4, "not held for the interval"
    assert [t.name for t in threading.enumerate()].count("sms-dispatch") >= 1


def test_a_full_batch_and_worker_processes_publish_at_once(settings, published):
    settings.SMS_DISPATCH_INTERVAL = 60  # far beyond the test: anything published came at once
    dispatcher = Dispatcher()
    full = [str(i) for i in range(DELIVERY_BATCH)]
    dispatcher.add(full)
    assert published == [full]

    dispatcher.immediate = True  # what worker_init / worker_process_init set in Celery workers
    dispatcher.add(["x"])
    assert published == [full, ["x"]]


def test_flush_publishes_what_is_buffered_as_at_exit(settings, published):
    settings.SMS_DISPATCH_INTERVAL = 60
    dispatcher = Dispatcher()
    dispatcher.add(["a", "b"])
    assert published == []
    dispatcher.flush()  # registered with atexit for the module's dispatcher
    assert published == [["a", "b"]]
    dispatcher.flush()
    assert published == [["a", "b"]], "a second flush has nothing to publish"


def test_a_forked_process_starts_its_own_thread(settings, published):
    settings.SMS_DISPATCH_INTERVAL = 0.05
    dispatcher = Dispatcher()
    dispatcher.add(["a"])
    wait_for(lambda: published, timeout=5, message="the first batch")
    dispatcher._pid = -1  # as a child sees it after fork: its parent's thread is not there
    before = [t for t in threading.enumerate() if t.name == "sms-dispatch"]
    dispatcher.add(["b"])
    after = [t for t in threading.enumerate() if t.name == "sms-dispatch"]
    assert len(after) == len(before) + 1
    wait_for(lambda: len(published) == 2, timeout=5, message="the batch after the fork")


def test_a_dead_flusher_thread_is_replaced(settings, published):
    settings.SMS_DISPATCH_INTERVAL = 0.05
    dispatcher = Dispatcher()
    dispatcher.add(["a"])
    wait_for(lambda: published, timeout=5, message="the first batch")
    dispatcher._thread = threading.Thread(target=lambda: None)  # one that has ended
    dispatcher._thread.start()
    dispatcher._thread.join()
    dispatcher.add(["b"])
    assert dispatcher._thread.is_alive()
    wait_for(lambda: len(published) == 2, timeout=5, message="the batch after the thread died")


def test_publish_survives_a_broker_failure(monkeypatch, caplog):
    from messaging import tasks

    def broken(_ids):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.deliver_messages, "delay", broken)
    dispatch.publish(["a"])  # logged, not raised: the recovery sweep picks the message up
    assert "recovery sweep" in caplog.text


class WatchedDispatcher(Dispatcher):
    """The buffer, noting every id handed to it."""

    def __init__(self) -> None:
        super().__init__()
        self.added: list[str] = []

    def add(self, ids: list[str]) -> None:
        self.added.extend(ids)
        super().add(ids)


def test_a_security_code_the_broker_refuses_stays_queued_and_the_log_names_only_the_error(
    owner, settings, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from messaging import tasks

    settings.SMS_DISPATCH_INTERVAL = 3600
    buffer = WatchedDispatcher()
    monkeypatch.setattr(delivery, "dispatcher", buffer)

    def broken(_ids):
        raise ConnectionError("redis://:hunter2@broker:6379 refused the connection")

    monkeypatch.setattr(tasks.deliver_messages, "delay", broken)
    with django_capture_on_commit_callbacks(execute=True):
        code = message_send_system(
            account=owner.membership.account, user=owner, to="+447400100001", text="731946 is your code", sensitive=True
        )
    # Tried at the commit itself, not through the buffer; the failure is logged by its class.
    assert buffer.added == []
    assert "ConnectionError" in caplog.text
    assert "731946" not in caplog.text
    assert "hunter2" not in caplog.text
    # Not lost: still queued, for the recovery sweep.
    assert Message.objects.get(pk=code.pk).status == Message.Status.QUEUED


@pytest.mark.worker
def test_a_security_code_is_published_at_commit_while_the_buffer_holds_customer_sends(
    settings, worker_factory, tmp_path, make_account, monkeypatch
):
    """A code never waits in the buffer, where a killed web process would lose it until the
    recovery sweep finds it."""
    settings.SMS_DISPATCH_INTERVAL = 3600  # after a publish, the buffer holds new ids for an hour
    buffer = Dispatcher()
    monkeypatch.setattr(delivery, "dispatcher", buffer)
    sms_file = tmp_path / "sms.jsonl"
    worker = worker_factory(SMS_BACKEND="file", SMS_FILE_PATH=str(sms_file))
    owner = make_account(credit=100).memberships.get().user
    account = owner.membership.account

    def send(number: str) -> Message:
        [message] = message_submit(account_id=account.pk, user=owner, caller="t", to=[number], text="Hi").messages
        return message

    def delivered(message: Message) -> bool:
        return Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED

    first = send("+447400123456")  # after a quiet spell: published at once
    wait_for(lambda: delivered(first), timeout=30, message="the first customer send to be delivered")
    held = send("+447400123457")  # within the interval after that publish: held by the buffer
    code = message_send_system(
        account=account, user=owner, to="+447400123458", text="731946 is your code", sensitive=True
    )
    wait_for(lambda: delivered(code), timeout=30, message="the security code to be delivered")
    assert Message.objects.get(pk=held.pk).status == Message.Status.QUEUED, "the buffer still holds the customer's send"
    assert str(code.pk) in sms_file.read_text()
    buffer.flush()
    wait_for(lambda: delivered(held), timeout=30, message="the held customer send to be delivered")
    assert worker.alive()


@pytest.mark.worker
def test_api_sends_reach_the_worker_through_the_buffer(settings, worker_factory, tmp_path, make_account):
    """The production path: web process buffers, a real worker delivers."""
    settings.SMS_DISPATCH_INTERVAL = 0.05
    sms_file = tmp_path / "sms.jsonl"
    worker = worker_factory(SMS_BACKEND="file", SMS_FILE_PATH=str(sms_file))
    owner = make_account(credit=100).memberships.get().user
    _, secret = make_token(owner, scopes=["messages:send"])
    client = Client()
    ids = []
    for number in ("+447400123456", "+447400123457", "+447400123458"):
        response = client.post(
            "/api/v1/messages", {"to": number, "text": "Hi"}, content_type="application/json", **bearer(secret)
        )
        assert response.status_code == 202, response.content
        ids.append(response.json()["messages"][0]["id"])
    wait_for(
        lambda: Message.objects.filter(pk__in=ids, status=Message.Status.DELIVERED).count() == 3,
        timeout=30,
        message="the three messages to be delivered",
    )
    handed_over = sms_file.read_text()
    assert all(message_id in handed_over for message_id in ids)
    assert worker.alive()
