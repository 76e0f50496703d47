"""Reads of an account's inbound SMS. Every query is scoped to the account: another account's
message, and one sent to a number nobody had (kept for staff, in the admin), is simply not found."""

import re
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Q, QuerySet

from core.selectors import created_within
from inbound.models import InboundMessage, InboundNumber, InboundSettings
from messaging.models import Message
from messaging.selectors import visible_messages


def inbound_messages(*, account_id: int) -> QuerySet[InboundMessage]:
    """The account's inbound messages, newest first (never those without an account)."""
    if account_id is None:
        return InboundMessage.objects.none()
    return InboundMessage.objects.filter(account_id=account_id).order_by("-received_at", "-id")


def inbound_list(
    *,
    account_id: int,
    search: str = "",
    sender: str = "",
    recipient: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[InboundMessage]:
    """The inbox's list: `search` in the text (any case) or the sender's number, the exact
    sender or inbound number, and received from the day `since` through `until`."""
    messages = inbound_messages(account_id=account_id)
    search = search.strip()
    if search:
        condition = Q(text__icontains=search)
        digits = re.sub(r"\D", "", search)
        if digits:
            condition |= Q(sender__contains=digits)
        messages = messages.filter(condition)
    if sender.strip():
        messages = messages.filter(sender=sender.strip())
    if recipient.strip():
        messages = messages.filter(recipient=recipient.strip())
    return created_within(messages, since=since, until=until, field="received_at")


def inbound_get(*, account_id: int, message_id) -> InboundMessage | None:
    return inbound_messages(account_id=account_id).filter(pk=message_id).first()


def account_numbers(*, account_id: int) -> list[str]:
    return list(InboundNumber.objects.filter(account_id=account_id).values_list("number", flat=True))


def reply_settings(*, account_id: int) -> InboundSettings:
    """The account's confirmation-reply setting (the defaults, unsaved, until it is changed)."""
    return InboundSettings.objects.filter(account_id=account_id).first() or InboundSettings(account_id=account_id)


@dataclass(frozen=True)
class Entry:
    """One SMS of a conversation, either way."""

    at: datetime
    incoming: bool
    text: str
    number: str  # ours: the inbound number it came to, or the sender it went out as
    status: str = ""  # of an outgoing message
    message_id: object = None


CONVERSATION_LIMIT = 200


def conversation(*, user, account_id: int, phone: str) -> list[Entry]:
    """The last SMS between the account and `phone`, oldest first: what it sent us, and what the
    account sent to it that this user may see (messaging's rule), confirmation replies included."""
    received = inbound_messages(account_id=account_id).filter(sender=phone)[:CONVERSATION_LIMIT]
    visible = visible_messages(user=user).filter(recipient=phone)
    # The STOP/START confirmations: the account's system messages from one of its inbound numbers.
    replies = Message.objects.filter(
        account_id=account_id,
        is_system=True,
        sensitive=False,
        recipient=phone,
        sender__in=InboundNumber.objects.filter(account_id=account_id).values("number"),
    )
    sent = (visible | replies).order_by("-created_at")[:CONVERSATION_LIMIT]
    entries = [Entry(at=m.received_at, incoming=True, text=m.text, number=m.recipient) for m in received]
    entries += [
        Entry(
            at=m.created_at,
            incoming=False,
            text=m.text,
            number=m.sender,
            status=m.get_status_display(),
            message_id=m.pk,
        )
        for m in sent
    ]
    return sorted(entries, key=lambda entry: entry.at)
