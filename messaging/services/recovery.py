"""The beat jobs that keep delivery moving: scheduled messages released, hand-overs in doubt
settled, lost tasks re-enqueued (a security code past its life failed instead)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from messaging.models import Message
from messaging.services.delivery import enqueue_delivery, hold_for_suspension, message_fail, status_events

logger = logging.getLogger(__name__)


def messages_release_due(limit: int = 5000) -> int:
    """Beat: scheduled messages whose time has come go to the queue (never long countdowns)."""
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Message.Status.SCHEDULED, scheduled_at__lte=timezone.now())
            .order_by("scheduled_at")
            .values_list("pk", "account__status")[:limit]
        )
        if not rows:
            return 0
        suspended = [pk for pk, status in rows if status == Account.Status.SUSPENDED]
        due = [pk for pk, status in rows if status != Account.Status.SUSPENDED]
        hold_for_suspension(suspended)
        Message.objects.filter(pk__in=due).update(status=Message.Status.QUEUED)
        status_events(due, Message.Status.QUEUED, "scheduled time reached")
        enqueue_delivery(due)
    return len(rows)


MAX_HANDOVER_ATTEMPTS = 3


# The error code of a message the watchdog gave up on (failed, refunded).
HANDOVER_UNKNOWN = "handover_unknown"


def messages_recover_stuck() -> int:
    """Messages left in `sending` past the grace period: a worker died mid-hand-over.

    Such a message goes back to the queue flagged as a possible duplicate, at most
    MAX_HANDOVER_ATTEMPTS hand-overs in doubt in all (`attempts`: a claim whose request provably
    never reached the gateway gives its attempt back); after that it fails (refunded) rather than
    crash workers forever. A delivery report for the earlier hand-over that arrives while it waits
    in the queue still counts (dlr_record), so it is not sent again. A security code is never sent
    again: by now it has expired, and its text may already be redacted.
    """
    cutoff = timezone.now() - settings.SMS_SENDING_GRACE
    with transaction.atomic():
        stuck = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=Message.Status.SENDING, sending_started_at__lt=cutoff)
            .values_list("pk", "attempts", "sensitive")[:1000]
        )
        if not stuck:
            return 0
        retry = [pk for pk, attempts, sensitive in stuck if attempts < MAX_HANDOVER_ATTEMPTS and not sensitive]
        give_up = [pk for pk, attempts, sensitive in stuck if attempts >= MAX_HANDOVER_ATTEMPTS or sensitive]
        Message.objects.filter(pk__in=retry).update(status=Message.Status.QUEUED, possible_duplicate=True)
        if retry:
            status_events(retry, Message.Status.QUEUED, "hand-over in doubt: queued again, possibly a duplicate")
            enqueue_delivery(retry)
    messages_give_up(give_up, error_code=HANDOVER_UNKNOWN, still=Message.Status.SENDING)
    logger.warning("stuck in sending: %d requeued, %d failed", len(retry), len(give_up))
    return len(stuck)


def messages_give_up(message_ids: list, *, error_code: str, still: str) -> None:
    """Fail (refunded, a security code's text redacted) messages a beat job will not send again,
    each only if still in the state the job found it in: since then a report may have moved it on
    (the carrier accepted it), or a worker claimed it."""
    for pk in message_ids:
        message_fail(message_id=pk, error_code=error_code, only_if=(still,))


# The error code of a security code the stale-queue job will not send: its life is over.
CODE_EXPIRED = "code_expired"


STALE_QUEUED_AFTER = timedelta(minutes=5)


# A message put back in the queue after a failed attempt waits for its task's retry (a backoff of
# up to RETRY_BACKOFF_MAX_SECONDS, messaging/tasks.py): the beat job leaves it alone until that
# retry is overdue too, so a gateway outage is not hammered ahead of the backoff.
RETRY_BACKOFF_MAX_SECONDS = 600


STALE_RETRY_AFTER = timedelta(seconds=RETRY_BACKOFF_MAX_SECONDS) + STALE_QUEUED_AFTER


def messages_requeue_stale() -> int:
    """`queued` messages whose task was lost (broker down at commit, worker killed before its
    retry was published) are enqueued again; the claim makes a double enqueue harmless. A security
    code older than a code lives (OTP_SMS_CODE_VALIDITY) is failed instead: it would arrive
    expired."""
    now = timezone.now()
    cutoff = now - STALE_QUEUED_AFTER
    # A released scheduled message has been queued since its scheduled time, not since it was made;
    # one that was tried already, since its last attempt (sending_started_at).
    rows = list(
        Message.objects.filter(status=Message.Status.QUEUED, created_at__lt=cutoff)
        .filter(Q(scheduled_at__isnull=True) | Q(scheduled_at__lt=cutoff))
        .filter(Q(sending_started_at__isnull=True) | Q(sending_started_at__lt=now - STALE_RETRY_AFTER))
        .values_list("pk", "sensitive", "created_at")
        .order_by("created_at")[:5000]
    )
    oldest_live_code = now - settings.OTP_SMS_CODE_VALIDITY
    expired = {pk for pk, sensitive, created_at in rows if sensitive and created_at < oldest_live_code}
    enqueue_delivery([pk for pk, _sensitive, _created_at in rows if pk not in expired])
    messages_give_up(list(expired), error_code=CODE_EXPIRED, still=Message.Status.QUEUED)
    return len(rows)
