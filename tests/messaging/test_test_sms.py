import pytest
import time_machine
from django.utils import timezone

from accounts.models import Account
from audit.models import AuditEvent
from core.errors import ApplicationError
from messaging.backends import locmem
from messaging.models import Message
from messaging.services import message_deliver, message_send_test

pytestmark = pytest.mark.django_db


def test_test_sms_goes_to_the_users_own_phone_for_free(owner, django_capture_on_commit_callbacks):
    balance = owner.membership.account.balance
    with django_capture_on_commit_callbacks() as callbacks:
        message = message_send_test(user=owner)
    assert len(callbacks) == 1  # delivery is enqueued only after the commit
    assert message.recipient == owner.phone
    assert message.is_system
    assert message.cost == 0
    assert message.status == Message.Status.QUEUED
    owner.membership.account.refresh_from_db()
    assert owner.membership.account.balance == balance
    assert AuditEvent.objects.filter(action="sms.test_sent", actor=owner, object_id=str(message.pk)).exists()


def test_test_sms_delivery_reaches_the_backend(owner):
    message = message_send_test(user=owner)
    assert message_deliver(message_ids=[str(message.pk)]) == []
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert [sms.id for sms in locmem.outbox] == [str(message.pk)]
    # A second hand-over of the same id is a no-op.
    assert message_deliver(message_ids=[str(message.pk)]) == []
    assert len(locmem.outbox) == 1


def test_test_sms_has_a_cooldown(owner):
    message_send_test(user=owner)
    with pytest.raises(ApplicationError) as excinfo:
        message_send_test(user=owner)
    assert excinfo.value.status == 429
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=61)):
        message_send_test(user=owner)
    assert Message.objects.filter(submitted_by=owner).count() == 2


def test_test_sms_needs_a_phone(make_account):
    user = make_account(phone="").memberships.get().user
    with pytest.raises(ApplicationError, match="mobile number"):
        message_send_test(user=user)
    assert not Message.objects.exists()


def test_suspended_account_cannot_send_a_test_sms(owner):
    Account.objects.filter(pk=owner.membership.account_id).update(status=Account.Status.SUSPENDED)
    owner.refresh_from_db()
    with pytest.raises(ApplicationError) as excinfo:
        message_send_test(user=owner)
    assert excinfo.value.code == "account_suspended"


def test_dashboard_button_sends_and_reports(client, owner):
    client.force_login(owner)
    response = client.post("/messages/test-sms/", follow=True)
    assert response.status_code == 200
    assert "Test message queued to +447400900123" in response.content.decode()
    response = client.post("/messages/test-sms/", follow=True)
    assert "less than 60 seconds ago" in response.content.decode()
    assert client.get("/messages/test-sms/").status_code == 405


def test_stuck_messages_are_requeued_then_failed_after_three_hand_overs(owner, settings):
    from messaging.services import messages_recover_stuck

    message = message_send_test(user=owner)
    stale = timezone.now() - settings.SMS_SENDING_GRACE - timezone.timedelta(seconds=1)
    Message.objects.filter(pk=message.pk).update(status="sending", sending_started_at=stale, attempts=1)
    assert messages_recover_stuck() == 1
    message.refresh_from_db()
    assert message.status == "queued"
    assert message.possible_duplicate
    Message.objects.filter(pk=message.pk).update(status="sending", sending_started_at=stale, attempts=3)
    messages_recover_stuck()
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.error_code == "handover_unknown"


def test_stale_queued_messages_are_enqueued_again(owner, django_capture_on_commit_callbacks):
    from messaging.services import messages_requeue_stale
    from messaging.workers import Holdings

    message = message_send_test(user=owner)
    assert messages_requeue_stale(barrier=timezone.now(), holdings=Holdings()) == 0  # fresh: its task is on the way
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timezone.timedelta(seconds=6))
    with django_capture_on_commit_callbacks() as callbacks:
        assert messages_requeue_stale(barrier=timezone.now(), holdings=Holdings()) == 1
    assert len(callbacks) == 1


def test_backend_errors_are_logged_without_their_text(owner, settings, caplog):
    settings.SMS_BACKEND = "tests.messaging.test_test_sms.ExplodingBackend"
    message = message_send_test(user=owner)
    assert message_deliver(message_ids=[str(message.pk)]) == [str(message.pk)]
    message.refresh_from_db()
    assert message.status == "queued"
    assert "hunter2" not in caplog.text
    assert "RuntimeError" in caplog.text


class ExplodingBackend:
    def send_messages(self, messages):
        raise RuntimeError("GET http://user:hunter2@gateway/cgi-bin/sendsms failed")
