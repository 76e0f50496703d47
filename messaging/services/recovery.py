"""The beat jobs that keep delivery moving: scheduled messages released, hand-overs in doubt
settled, the work of a dead process put back in the queue (a security code past its life failed
instead)."""

import logging
from collections.abc import Collection
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from messaging.models import Message
from messaging.services.delivery import enqueue_delivery, hold_for_suspension, message_fail, status_events
from messaging.workers import Holdings

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

IN_DOUBT = "hand-over in doubt: queued again, possibly a duplicate"
WORKER_GONE = "its worker stopped during the hand-over: queued again, possibly a duplicate"


def messages_recover_stuck(
    *, claimed_by: Collection[str] | None = None, before: datetime | None = None, detail: str = IN_DOUBT
) -> int:
    """Messages left in `sending`: a worker died mid-hand-over, or the gateway's answer never came.

    By default (the watchdog) those claimed before the grace period (SMS_SENDING_GRACE); with
    `claimed_by`, those claimed before `before` by these worker processes, which the recovery
    sweep found gone. Such a message goes back to the queue flagged as a possible duplicate, at
    most MAX_HANDOVER_ATTEMPTS hand-overs in doubt in all (`attempts`: a claim whose request
    provably never reached the gateway gives its attempt back); after that it fails (refunded)
    rather than crash workers forever. A delivery report for the earlier hand-over that arrives
    while it waits in the queue still counts (dlr_record), so it is not sent again. A security
    code is never sent again: it may have reached the phone, and its text may already be redacted.
    """
    cutoff = before or timezone.now() - settings.SMS_SENDING_GRACE
    with transaction.atomic():
        query = Message.objects.select_for_update(skip_locked=True).filter(
            status=Message.Status.SENDING, sending_started_at__lt=cutoff
        )
        if claimed_by is not None:
            query = query.filter(claimed_by__in=list(claimed_by))
        stuck = list(query.values_list("pk", "attempts", "sensitive")[:1000])
        if not stuck:
            return 0
        retry = [pk for pk, attempts, sensitive in stuck if attempts < MAX_HANDOVER_ATTEMPTS and not sensitive]
        give_up = [pk for pk, attempts, sensitive in stuck if attempts >= MAX_HANDOVER_ATTEMPTS or sensitive]
        Message.objects.filter(pk__in=retry).update(status=Message.Status.QUEUED, possible_duplicate=True)
        if retry:
            status_events(retry, Message.Status.QUEUED, detail)
            enqueue_delivery(retry)
    messages_give_up(give_up, error_code=HANDOVER_UNKNOWN, still=Message.Status.SENDING)
    logger.warning("stuck in sending (%s): %d requeued, %d failed", detail, len(retry), len(give_up))
    return len(stuck)


def messages_give_up(message_ids: list, *, error_code: str, still: str) -> None:
    """Fail (refunded, a security code's text redacted) messages a beat job will not send again,
    each only if still in the state the job found it in: since then a report may have moved it on
    (the carrier accepted it), or a worker claimed it."""
    for pk in message_ids:
        message_fail(message_id=pk, error_code=error_code, only_if=(still,))


# The error code of a security code the recovery sweep will not send: its life is over.
CODE_EXPIRED = "code_expired"

REQUEUE_LIMIT = 5000


# A message put back in the queue after a failed attempt waits for its task's retry, a backoff of
# up to this many seconds (messaging/tasks.py), held by a worker (Celery's countdown), and so
# left alone by the sweep. The broker's visibility timeout is longer (portal/settings.py).
RETRY_BACKOFF_MAX_SECONDS = 600


def messages_requeue_stale(*, barrier: datetime, holdings: Holdings) -> int:
    """The recovery sweep (beat, every SMS_REQUEUE_SWEEP, half of SMS_REQUEUE_AFTER, and each
    worker as it starts): the delivery work of a process that died goes back to the queue.

    It runs as a barrier: its task was published at `barrier` and is running now, so every task
    published before then has left the broker's queue (first in, first out) for some worker.
    So a `queued` message waiting since before `barrier - SMS_REQUEUE_SWEEP` (time enough for a
    commit's publish) that no live worker holds (`holdings`, messaging/workers.py) has lost its
    task: a web process died before publishing it, the broker was down at the commit, or a
    killed worker held it unacknowledged (Redis hands such a task out again only after its
    visibility timeout). It is enqueued again; the claim makes that harmless if its task was
    alive after all. A security code older than a code lives (the longer of
    OTP_SMS_CODE_VALIDITY and VERIFY_CODE_VALIDITY) is failed instead: it would arrive expired.
    A message a process that is provably gone left in `sending` goes back flagged as a possible
    duplicate (messages_recover_stuck), without waiting for the watchdog's grace period. (A
    hand-over whose answer never came holds no claim: its worker lived to wait for it.)
    """
    now = timezone.now()
    cutoff = barrier - settings.SMS_REQUEUE_SWEEP
    # Waiting since: its creation, its scheduled time, or its last attempt.
    rows = list(
        Message.objects.filter(status=Message.Status.QUEUED, created_at__lt=cutoff)
        .filter(Q(scheduled_at__isnull=True) | Q(scheduled_at__lt=cutoff))
        .filter(Q(sending_started_at__isnull=True) | Q(sending_started_at__lt=cutoff))
        .values_list("pk", "sensitive", "created_at")
        .order_by("created_at")[: REQUEUE_LIMIT + len(holdings.messages)]
    )
    lost = [(pk, sensitive, created_at) for pk, sensitive, created_at in rows if str(pk) not in holdings.messages]
    lost = lost[:REQUEUE_LIMIT]
    # The longest a code lives: a sign-in code's or a Verify code's (which message holds which is
    # not recorded; a sign-in code sent late is merely useless, a Verify code failed early is lost).
    oldest_live_code = now - max(settings.OTP_SMS_CODE_VALIDITY, settings.VERIFY_CODE_VALIDITY)
    expired = {pk for pk, sensitive, created_at in lost if sensitive and created_at < oldest_live_code}
    enqueue_delivery([pk for pk, _sensitive, _created_at in lost if pk not in expired])
    messages_give_up(list(expired), error_code=CODE_EXPIRED, still=Message.Status.QUEUED)
    claimers = (
        Message.objects.filter(status=Message.Status.SENDING, sending_started_at__lt=cutoff)
        .exclude(claimed_by="")
        .order_by()
        .values_list("claimed_by", flat=True)
        .distinct()
    )
    gone = [tag for tag in claimers if holdings.claim_is_orphaned(tag)]
    in_doubt = messages_recover_stuck(claimed_by=gone, before=cutoff, detail=WORKER_GONE) if gone else 0
    if lost or in_doubt:
        logger.warning("recovery sweep: %d queued messages had lost their task, %d in doubt", len(lost), in_doubt)
    return len(lost) + in_doubt
