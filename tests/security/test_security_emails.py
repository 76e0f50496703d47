"""Security e-mails leave through Celery tasks, never from the request.

An answer that waits on the mail server only when the address exists (a lockout alert, a reset
e-mail) tells anyone timing it which addresses have accounts. And no reset link or token travels
through the broker, a task argument or a log line: the task makes them when it sends.
"""

import re

import pytest
from celery import current_task
from django.core.mail.backends.locmem import EmailBackend

from accounts import tasks
from accounts.models import User
from security import tasks as security_tasks
from tests.conftest import wait_for

LOGIN = "/accounts/login/"
RESET = "/accounts/password-reset/"
RESET_LINK = re.compile(r"https?://testserver(/accounts/reset/[^/\s]+/([^/\s]+)/)")

sent_from: list[str | None] = []


class TaskRecordingBackend(EmailBackend):
    """The locmem backend, noting for each e-mail the Celery task that sent it (None: no task)."""

    def send_messages(self, messages):
        sent_from.extend(current_task.name if current_task else None for _ in messages)
        return super().send_messages(messages)


@pytest.fixture
def recording_backend(settings):
    settings.EMAIL_BACKEND = f"{__name__}.TaskRecordingBackend"
    sent_from.clear()
    yield sent_from
    sent_from.clear()


def lock_out(client, email: str, ip: str):
    for _ in range(5):
        client.post(LOGIN, {"username": email, "password": "Wrong-Password-1"}, REMOTE_ADDR=ip)
    return client.post(LOGIN, {"username": email, "password": "Wrong-Password-1"}, REMOTE_ADDR=ip)


@pytest.mark.django_db(transaction=True)  # as in production: no test transaction, commit hooks run at once
def test_the_lockout_answer_sends_no_email_itself_for_a_known_or_an_unknown_address(
    client, owner, mailoutbox, email_tasks, recording_backend
):
    email_tasks.hold()
    assert lock_out(client, owner.email, "203.0.113.1").status_code == 429
    assert lock_out(client, "nobody@example.com", "203.0.113.2").status_code == 429
    assert mailoutbox == []  # no mail server was spoken to during either answer
    assert [(name, kwargs["user_id"]) for name, kwargs, _ in email_tasks.queued] == [
        ("accounts.tasks.send_notice_email", owner.pk)
    ]

    email_tasks.run()
    [mail] = mailoutbox
    assert mail.to == [owner.email]
    assert "locked" in mail.subject.lower()
    assert recording_backend == ["accounts.tasks.send_notice_email"]


@pytest.mark.django_db(transaction=True)
def test_a_new_device_alert_is_sent_by_a_task(client, owner, mailoutbox, email_tasks, recording_backend):
    email_tasks.hold()
    response = client.post(LOGIN, {"username": owner.email, "password": "Correct-Horse-42"})
    assert response.status_code == 302
    assert mailoutbox == []
    email_tasks.run()
    assert [mail.subject for mail in mailoutbox] == ["New sign-in to your SMS Portal account"]
    assert recording_backend == ["accounts.tasks.send_notice_email"]


def test_a_reset_request_queues_the_email_without_its_link_or_token(
    client, owner, mailoutbox, email_tasks, recording_backend, django_capture_on_commit_callbacks, settings
):
    email_tasks.hold()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(RESET, {"email": owner.email.upper()}).status_code == 302
        assert client.post(RESET, {"email": "nobody@example.com"}).status_code == 302
    assert mailoutbox == []
    [(name, kwargs, options)] = email_tasks.queued
    assert name == "security.tasks.send_password_reset_email"
    assert kwargs == {"user_id": owner.pk, "domain": "testserver", "use_https": False}
    assert options == {"expires": settings.PASSWORD_RESET_TIMEOUT}  # a stale request sends nothing

    email_tasks.run()
    [mail] = mailoutbox
    assert mail.to == [owner.email]
    assert mail.subject == "Reset your SMS Portal password"
    path, token = RESET_LINK.search(mail.body).groups()
    assert token not in repr(email_tasks.queued)
    assert path not in repr(email_tasks.queued)
    assert recording_backend == ["security.tasks.send_password_reset_email"]
    # The link the task made works.
    response = client.get(path)
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200


def test_the_reset_link_follows_the_address_the_portal_was_reached_at(
    client, owner, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RESET, {"email": owner.email}, HTTP_HOST="portal.example.com", secure=True)
    [mail] = mailoutbox
    assert "https://portal.example.com/accounts/reset/" in mail.body


def test_the_reset_task_sends_nothing_to_a_user_who_can_no_longer_reset(owner, mailoutbox):
    User.objects.filter(pk=owner.pk).update(is_active=False)
    assert (
        security_tasks.send_password_reset_email.apply(
            kwargs={"user_id": owner.pk, "domain": "x", "use_https": True}
        ).get()
        is False
    )
    User.objects.filter(pk=owner.pk).update(is_active=True, password="!unusable")
    assert (
        security_tasks.send_password_reset_email.apply(
            kwargs={"user_id": owner.pk, "domain": "x", "use_https": True}
        ).get()
        is False
    )
    assert tasks.send_notice_email.apply(kwargs={"user_id": 0, "subject": "s", "body": "b"}).get() is False
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_does_not_fail_the_answer(client, owner, monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis://:broker-password@redis.internal:6379/0 unreachable")

    monkeypatch.setattr(tasks.send_notice_email, "apply_async", broker_down)
    assert lock_out(client, owner.email, "203.0.113.1").status_code == 429
    assert "could not be queued: ConnectionError" in caplog.text
    assert "broker-password" not in caplog.text


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_reset_email_with_a_working_link(client, owner, worker_factory, tmp_path, email_tasks):
    mail_dir = tmp_path / "mail"
    worker_factory(DJANGO_SETTINGS_MODULE="tests.security.email_worker_settings", TEST_EMAIL_FILE_PATH=str(mail_dir))
    email_tasks.to_broker()
    assert client.post(RESET, {"email": owner.email}).status_code == 302

    def reset_link():
        texts = [path.read_text() for path in mail_dir.glob("*.log")] if mail_dir.exists() else []
        return next((match for text in texts if (match := RESET_LINK.search(text))), None)

    path, token = wait_for(reset_link, message="the worker to send the reset e-mail").groups()
    response = client.get(path)
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200
    assert token not in repr(email_tasks.queued)
    assert token not in (tmp_path / "worker0.log").read_text()
