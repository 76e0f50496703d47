"""Delivery reports: a message's state only moves forward; a report after a give-up is kept and logged."""

import logging
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from messaging import sql
from messaging.models import Message, MessageEvent
from messaging.services.delivery import REDACTED_TEXT, message_fail, message_status_published, status_event
from messaging.services.recovery import HANDOVER_UNKNOWN

logger = logging.getLogger(__name__)

IN_FLIGHT = (Message.Status.SENDING, Message.Status.SENT)


# A message the watchdog put back in the queue (its hand-over in doubt, possible_duplicate) may
# have left already: a report for it proves that hand-over exactly as for a message still
# `sending`, and moves it on, so the next claim (which takes `queued` messages only) skips it.
REQUEUED_IN_DOUBT = Q(status=Message.Status.QUEUED, possible_duplicate=True)


IN_FLIGHT_OR_REQUEUED = Q(status__in=IN_FLIGHT) | REQUEUED_IN_DOUBT


# Kannel's report types (dlr-mask bits) → what they mean for a message.
DLR_DELIVERED, DLR_UNDELIVERED, DLR_BUFFERED, DLR_SMSC_ACCEPTED, DLR_SMSC_REJECTED = 1, 2, 4, 8, 16
PROGRESS = {
    DLR_DELIVERED: (Message.Status.DELIVERED, "delivery report"),
    DLR_SMSC_ACCEPTED: (Message.Status.SENT, "accepted by the SMSC"),
    DLR_BUFFERED: (Message.Status.SENT, "buffered by the SMSC"),
}


def dlr_record(*, message_id: str, kannel_status: int) -> str:
    """Apply one delivery report; returns what happened ("applied", "ignored").

    States only move forward (a late "accepted" never undoes "delivered"), a replayed report
    changes nothing, and failures are refunded once. A report for a message still `sending`, or
    put back in the queue by the watchdog, proves its hand-over (the worker may not have recorded
    it yet). One for a message the watchdog gave up on is kept in its history only
    (report_after_give_up).
    """
    now = timezone.now()
    try:
        message_id = uuid.UUID(str(message_id))
    except ValueError:
        return "ignored"  # no message has such an id (its token may be right: it is only an HMAC)
    if kannel_status in PROGRESS:
        return dlr_progress(message_id=message_id, kannel_status=kannel_status, now=now)
    Message.objects.filter(pk=message_id, sensitive=True).exclude(text=REDACTED_TEXT).update(text=REDACTED_TEXT)
    if kannel_status in (DLR_UNDELIVERED, DLR_SMSC_REJECTED):
        with transaction.atomic():
            message = Message.objects.select_for_update().filter(IN_FLIGHT_OR_REQUEUED, pk=message_id).first()
            if message is None:
                return "ignored"
            if kannel_status == DLR_UNDELIVERED:
                message_fail(message_id=message_id, error_code="undelivered", status=Message.Status.UNDELIVERED)
            else:
                message_fail(message_id=message_id, error_code="rejected_by_smsc")
        return "applied"
    return "ignored"


GIVEN_UP_IN_DOUBT = Q(status=Message.Status.FAILED) & (Q(error_code=HANDOVER_UNKNOWN) | Q(possible_duplicate=True))


def report_after_give_up(*, message_id: uuid.UUID, kannel_status: int) -> str:
    """A report of progress for a message that failed (refunded) after a hand-over in doubt: the
    watchdog gave up on it (handover_unknown), or requeued it (possible_duplicate) and its
    retries then ran out. Its earlier hand-over did happen after all.

    The message stays failed and the refund stands: final states never move back, and taking the
    cost again could find the credit spent (a balance never goes below zero), so it could not be
    done exactly every time. The report is kept in the message's history (once, however often
    Kannel replays it) and logged as a warning, for staff to settle by hand (a ledger adjustment)
    if they choose. Returns "ignored": the message's state did not change."""
    status, what = PROGRESS[kannel_status]
    detail = f"{what} after the hand-over was given up; the message stays failed and refunded"
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(GIVEN_UP_IN_DOUBT, pk=message_id)
            .only("id", "account_id", "cost", "error_code")
            .first()
        )
        if message is None or MessageEvent.objects.filter(message=message, status=status, detail=detail).exists():
            return "ignored"
        status_event(message.pk, status, detail)
    logger.warning(
        "message %s (account %s, %s points refunded): %s after it failed as %s following a hand-over in doubt",
        message.pk,
        message.account_id,
        message.cost,
        what,
        message.error_code,
    )
    return "ignored"


def dlr_progress(*, message_id: uuid.UUID, kannel_status: int, now) -> str:
    """A report of progress (delivered, accepted, buffered): the message moves forward if it may,
    a security code is redacted, and the report goes into its history (messaging/sql.py)."""
    in_flight = [str(status) for status in IN_FLIGHT]
    to, detail = PROGRESS[kannel_status]
    if kannel_status == DLR_DELIVERED:
        moves_from, event_from = in_flight, in_flight
    else:
        # Accepted or buffered: `sending` moves to `sent`; a buffered report is recorded as an
        # event for any message still in flight.
        moves_from = [str(Message.Status.SENDING)]
        event_from = in_flight if kannel_status == DLR_BUFFERED else moves_from
    row = sql.message_report_progress(
        message_id=message_id,
        to=to,
        detail=detail,
        moves_from=moves_from,
        event_from=event_from,
        redacted=REDACTED_TEXT,
        now=now,
    )
    if row is None:
        return "ignored"
    status, actual, error_code, possible_duplicate, account_id, is_system = row
    if status in moves_from:
        message_status_published(account_id=None if is_system else account_id, message_id=message_id, status=to)
        return "applied"
    if actual == Message.Status.FAILED and (error_code == HANDOVER_UNKNOWN or possible_duplicate):
        return report_after_give_up(message_id=message_id, kannel_status=kannel_status)
    return "ignored"
