"""A message left in `sending` (the hand-over's outcome unknown): found by review, a security code
was sent again as its redaction placeholder, and giving up could fail and refund a message the
carrier had accepted in the meantime."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from messaging.backends import SendResult
from messaging.models import Message, PriceRule
from messaging.services import (
    delivery,
    dlr_record,
    message_deliver,
    message_send_system,
    message_submit,
    messages_recover_stuck,
)

pytestmark = pytest.mark.django_db


class UnknownThenSent:
    """A gateway that times out reading the first answer (it may have taken the message)."""

    def __init__(self):
        self.texts: list[list[str]] = []

    def send_messages(self, messages):
        self.texts.append([m.text for m in messages])
        status = "unknown" if len(self.texts) == 1 else "sent"
        return [SendResult(id=m.id, status=status, provider_id="x") for m in messages]


def overdue(message_id, settings, **values):
    Message.objects.filter(pk=message_id).update(
        sending_started_at=timezone.now() - 2 * settings.SMS_SENDING_GRACE, **values
    )


def test_a_security_code_in_doubt_is_failed_not_sent_again(owner, monkeypatch, settings):
    gateway = UnknownThenSent()
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    message = message_send_system(
        account=owner.membership.account, user=owner, to="+447400100001", text="123456 is your code", sensitive=True
    )
    message_deliver(message_ids=[str(message.pk)])
    assert Message.objects.get(pk=message.pk).status == Message.Status.SENDING
    overdue(message.pk, settings)
    assert messages_recover_stuck() == 1
    message_deliver(message_ids=[str(message.pk)])  # a task that was already on its way
    message.refresh_from_db()
    assert gateway.texts == [["123456 is your code"]]  # never the placeholder, never twice
    assert (message.status, message.error_code) == (Message.Status.FAILED, "handover_unknown")
    assert message.text == delivery.REDACTED_TEXT


def test_giving_up_spares_a_message_a_report_has_moved_on(owner, monkeypatch, settings):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    account_id = owner.membership.account_id
    [message] = message_submit(account_id=account_id, user=owner, caller="t", to=["+447400100001"], text="Hi").messages
    overdue(message.pk, settings, status=Message.Status.SENDING, attempts=delivery.MAX_HANDOVER_ATTEMPTS)
    fail = delivery.message_fail

    def report_first(**kwargs):  # the carrier's "accepted" report lands between the two steps
        assert dlr_record(message_id=str(kwargs["message_id"]), kannel_status=8) == "applied"
        return fail(**kwargs)

    monkeypatch.setattr(delivery, "message_fail", report_first)
    messages_recover_stuck()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert Account.objects.get(pk=account_id).balance == 99  # charged once, not refunded
