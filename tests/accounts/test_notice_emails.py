"""Notice e-mails (accounts/notices.py, accounts/tasks.py) leave through a Celery task after the
commit: a mail server that is slow or down never fails the request that queued one, the task is
retried with backoff and gives up logging the error's class only, and a task delivered again
sends once. (The security e-mails that use them: tests/security/test_security_emails.py.)"""

import logging
import smtplib
from decimal import Decimal

import pytest
from django.core.mail.backends.locmem import EmailBackend

from accounts import tasks
from accounts.models import Account
from audit import services
from messaging.models import PriceRule
from messaging.services import message_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


class DownMailServer(EmailBackend):
    failures = 0

    def send_messages(self, messages):
        if DownMailServer.failures:
            DownMailServer.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed: reply quoting secret-text-5f1c")
        return super().send_messages(messages)


def test_an_email_task_delivered_again_sends_once(owner, mailoutbox):
    """acks_late: a worker lost after sending gets the task again."""
    kwargs = {"user_id": owner.pk, "subject": "Notice", "body": "Body"}
    assert tasks.send_notice_email.apply(kwargs=kwargs, task_id="same-task").get() is True
    assert tasks.send_notice_email.apply(kwargs=kwargs, task_id="same-task").get() is False
    assert tasks.send_notice_email.apply(kwargs=kwargs, task_id="another-task").get() is True
    assert len(mailoutbox) == 2


def test_a_failing_mail_server_is_retried(owner, mailoutbox, settings):
    settings.EMAIL_BACKEND = f"{__name__}.DownMailServer"
    DownMailServer.failures = 2
    result = tasks.send_notice_email.apply(kwargs={"user_id": owner.pk, "subject": "Notice", "body": "Body"})
    assert result.get() is True
    assert len(mailoutbox) == 1


def test_a_mail_server_down_for_good_is_given_up_with_only_the_error_class_logged(owner, mailoutbox, settings, caplog):
    settings.EMAIL_BACKEND = f"{__name__}.DownMailServer"
    DownMailServer.failures = tasks.EMAIL_MAX_RETRIES + 1
    caplog.set_level(logging.INFO)
    result = tasks.send_notice_email.apply(kwargs={"user_id": owner.pk, "subject": "Notice", "body": "Body"})
    assert result.get() is False
    assert DownMailServer.failures == 0  # every try was made
    assert mailoutbox == []
    assert "SMTPServerDisconnected" in caplog.text
    assert "secret-text-5f1c" not in caplog.text


def test_a_mail_server_too_slow_for_the_soft_time_limit_is_retried_not_dropped(owner, monkeypatch):
    """SoftTimeLimitExceeded is no OSError: the notice is retried like a mail server error, not
    acked as failed."""
    from celery.exceptions import Retry, SoftTimeLimitExceeded

    from accounts import notices, tasks

    def slow(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(notices, "notice_email_send", slow)
    monkeypatch.setattr(tasks, "EMAIL_MAX_RETRIES", 1)
    result = tasks.send_notice_email.apply(kwargs={"user_id": owner.pk, "subject": "s", "body": "b"})
    assert result.state == "RETRY" or isinstance(result.result, Retry) or result.result is False, result.state
    assert tasks.EMAIL_SOFT_TIME_LIMIT > 3 * 20  # several SMTP steps of EMAIL_TIMEOUT each fit


def test_security_alert_passes_only_the_owner_id_and_the_text(owner, email_tasks, django_capture_on_commit_callbacks):
    email_tasks.hold()
    with django_capture_on_commit_callbacks(execute=True):
        services.security_alert(account=owner.account, kind="test", subject="Subject", body="Body")
    assert [kwargs for _, kwargs, _ in email_tasks.queued] == [
        {"user_id": owner.pk, "subject": "Subject", "body": "Body"}
    ]


def test_a_mail_server_that_is_down_does_not_fail_a_committed_send(
    owner, priced, settings, django_capture_on_commit_callbacks, caplog, monkeypatch
):
    queued: list[dict] = []
    monkeypatch.setattr(
        tasks.send_notice_email, "apply_async", lambda args=None, kwargs=None, **options: queued.append(kwargs)
    )
    settings.EMAIL_BACKEND = f"{__name__}.BrokenMail"
    Account.objects.filter(pk=owner.membership.account_id).update(traffic_alert_per_hour=0)
    with django_capture_on_commit_callbacks(execute=True):
        result = message_submit(
            account_id=owner.membership.account_id, user=owner, caller="c", to=["+447400100001"], text="x"
        )
    assert result.messages[0].status == "queued"
    # The alert is queued for a Celery task after the commit; the request never meets the mail server.
    assert len(queued) == 1
    # The task retries with backoff, then gives up, logging the error's class only.
    assert tasks.send_notice_email.apply(kwargs=queued[0]).get() is False
    assert "ConnectionRefusedError" in caplog.text


class BrokenMail:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")
