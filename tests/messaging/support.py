"""Helpers shared by the messaging tests."""

from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from messaging.backends import SendResult
from messaging.models import Message, PriceRule
from messaging.services import delivery, message_deliver, message_submit


class AnswerLost:
    """A gateway whose answer never arrives (a read timeout): the hand-over is in doubt."""

    def send_messages(self, messages):
        return [SendResult(id=m.id, status="unknown") for m in messages]


def stuck_in_doubt(owner, monkeypatch) -> Message:
    """One message handed to a gateway whose answer never came, left `sending` for twice the grace
    period: what the watchdog (messages_recover_stuck) takes back."""
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    [message] = message_submit(
        account_id=owner.membership.account_id, user=owner, caller="t", to=["+447400100001"], text="Hi"
    ).messages
    monkeypatch.setattr(delivery, "get_backend", lambda: AnswerLost())
    message_deliver(message_ids=[str(message.pk)])
    Message.objects.filter(pk=message.pk).update(sending_started_at=timezone.now() - 2 * settings.SMS_SENDING_GRACE)
    return message
