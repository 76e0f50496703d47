"""Handing messages to the gateway and recording what happened."""

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Account, User
from accounts.services import audit_record
from messaging.backends import OutgoingSms, SendResult, get_backend
from messaging.models import LedgerEntry, Message
from messaging.services.ledger import _ledger_write
from portal.exceptions import ApplicationError

logger = logging.getLogger(__name__)


# --- Sending -----------------------------------------------------------------------------------


DELIVERY_BATCH = 100


def enqueue_delivery(message_ids: list) -> None:
    from messaging.tasks import deliver_messages

    ids = [str(message_id) for message_id in message_ids]
    # robust: a broker hiccup after the commit must not turn an accepted request into a 500; the
    # message stays `queued` and the beat job re-enqueues it (messages_requeue_stale).
    for start in range(0, len(ids), DELIVERY_BATCH):
        chunk = ids[start : start + DELIVERY_BATCH]
        transaction.on_commit(lambda chunk=chunk: deliver_messages.delay(chunk), robust=True)


REDACTED_TEXT = "[redacted: contained a security code]"


def message_send_system(*, account: Account | None, user: User, to: str, text: str, sensitive: bool = False) -> Message:
    """A free system message (2FA codes and the like): never charged, delivered like any other."""
    message = Message.objects.create(
        account=account,
        submitted_by=user,
        is_system=True,
        sensitive=sensitive,
        sender=settings.SMS_SYSTEM_SENDER,
        recipient=to,
        text=text,
    )
    enqueue_delivery([message.pk])
    return message


TEST_SMS_TEXT = "This is a test message from your SMS portal. Your account can send SMS."
TEST_SMS_COOLDOWN_SECONDS = 60


@transaction.atomic
def message_send_test(*, user: User) -> Message:
    """A free system SMS to the user's own phone, to check that messages reach it.

    Only to the user's own number (so it cannot be used to send free SMS to anyone), and at
    most one a minute per user.
    """
    membership = getattr(user, "membership", None)
    if membership is None:
        raise ApplicationError("This user does not belong to an account.", code="no_account")
    if not user.phone:
        raise ApplicationError("Add your mobile number to your profile first.", code="no_phone")
    if not membership.account.is_active:
        raise ApplicationError("The account is suspended.", code="account_suspended", status=403)
    # The membership row lock serialises two clicks at once, so the cooldown holds.
    type(membership).objects.select_for_update().only("id").get(pk=membership.pk)
    since = timezone.now() - timezone.timedelta(seconds=TEST_SMS_COOLDOWN_SECONDS)
    if Message.objects.filter(submitted_by=user, is_system=True, created_at__gte=since).exists():
        raise ApplicationError(
            f"A test message was sent less than {TEST_SMS_COOLDOWN_SECONDS} seconds ago; try again shortly.",
            code="rate_limited",
            status=429,
        )
    message = message_send_system(account=membership.account, user=user, to=user.phone, text=TEST_SMS_TEXT)
    audit_record(action="sms.test_sent", account=membership.account, actor=user, target=message)
    return message


# --- Delivery ----------------------------------------------------------------------------------


def _claim(message_id) -> Message | None:
    """queued → sending in one conditional UPDATE: of two workers holding the same id, one wins."""
    now = timezone.now()
    claimed = Message.objects.filter(pk=message_id, status=Message.Status.QUEUED).update(
        status=Message.Status.SENDING, sending_started_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return Message.objects.only("id", "recipient", "sender", "text", "created_at").get(pk=message_id)


def _record(message_id, result: SendResult) -> None:
    now = timezone.now()
    base = Message.objects.filter(pk=message_id, status=Message.Status.SENDING)
    if not result.retryable:
        # Handed over (or finally refused): a security code has no reason to stay at rest.
        Message.objects.filter(pk=message_id, sensitive=True).update(text=REDACTED_TEXT)
    if result.status == "delivered":
        base.update(status=result.status, provider_id=result.provider_id, sent_at=now, delivered_at=now)
    elif result.status == "sent":
        base.update(status=result.status, provider_id=result.provider_id, sent_at=now)
    elif result.retryable:
        base.update(status=Message.Status.QUEUED, error_code=result.error_code)
    else:
        message_fail(message_id=message_id, error_code=result.error_code or "gateway_rejected")


def message_deliver(*, message_ids: list[str]) -> list[str]:
    """Hand queued messages to the backend, one at a time, each claimed right before and recorded
    right after, so a killed worker leaves at most one message in doubt. Returns the ids to retry."""
    backend = get_backend()
    retry: list[str] = []
    for position, message_id in enumerate(message_ids):
        message = _claim(message_id)
        if message is None:
            continue  # already handed over, canceled, or claimed by another worker
        sms = OutgoingSms(
            id=str(message.pk),
            to=message.recipient,
            sender=message.sender,
            text=message.text,
            created_at=message.created_at,
        )
        try:
            [result] = backend.send_messages([sms])
        except SoftTimeLimitExceeded:
            # Out of time: put this one back (it may or may not have left) and stop the batch.
            _record(message_id, SendResult(id=sms.id, status="failed", error_code="time_limit", retryable=True))
            retry.extend(str(i) for i in message_ids[position:])
            return retry
        except Exception as exc:
            # The class only: a backend's exception text may carry its URL and credentials.
            logger.error("SMS backend raised %s for message %s", type(exc).__name__, message_id)
            result = SendResult(id=sms.id, status="failed", error_code="backend_error", retryable=True)
        _record(message_id, result)
        if result.status == "failed" and result.retryable:
            retry.append(str(message_id))
    return retry


@transaction.atomic
def message_fail(*, message_id, error_code: str) -> None:
    """A final failure: the message is `failed` and its cost, if any, refunded, once."""
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.status in Message.FINAL_STATUSES:
        return
    message.status = Message.Status.FAILED
    message.error_code = error_code[:64]
    if message.sensitive:
        message.text = REDACTED_TEXT
    message.save(update_fields=["status", "error_code", "text"])
    if message.cost > 0 and not message.is_system:
        _ledger_write(
            account_id=message.account_id,
            kind=LedgerEntry.Kind.REFUND,
            amount=message.cost,
            note=f"Refund for failed message {message.pk}",
            batch_id=message.batch_id,
        )


MAX_HANDOVER_ATTEMPTS = 3


def messages_recover_stuck() -> int:
    """Messages left in `sending` past the grace period: a worker died mid-hand-over.

    Until delivery reports can prove a hand-over (the Kannel issue), such a message goes back to
    the queue flagged as a possible duplicate, at most MAX_HANDOVER_ATTEMPTS times in all; after
    that it fails (refunded) rather than crash workers forever.
    """
    cutoff = timezone.now() - settings.SMS_SENDING_GRACE
    with transaction.atomic():
        stuck = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=Message.Status.SENDING, sending_started_at__lt=cutoff)
            .values_list("pk", "attempts")[:1000]
        )
        if not stuck:
            return 0
        retry = [pk for pk, attempts in stuck if attempts < MAX_HANDOVER_ATTEMPTS]
        give_up = [pk for pk, attempts in stuck if attempts >= MAX_HANDOVER_ATTEMPTS]
        Message.objects.filter(pk__in=retry).update(status=Message.Status.QUEUED, possible_duplicate=True)
        if retry:
            enqueue_delivery(retry)
    for pk in give_up:
        message_fail(message_id=pk, error_code="handover_unknown")
    logger.warning("stuck in sending: %d requeued, %d failed", len(retry), len(give_up))
    return len(stuck)


STALE_QUEUED_AFTER = timedelta(minutes=5)


def messages_requeue_stale() -> int:
    """`queued` messages whose task was lost (broker down at commit, worker killed before its
    retry was published) are enqueued again; the claim makes a double enqueue harmless."""
    cutoff = timezone.now() - STALE_QUEUED_AFTER
    ids = list(
        Message.objects.filter(status=Message.Status.QUEUED, created_at__lt=cutoff, scheduled_at__isnull=True)
        .values_list("pk", flat=True)
        .order_by("created_at")[:5000]
    )
    enqueue_delivery(ids)
    return len(ids)
