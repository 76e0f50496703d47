"""Handing messages to the gateway and recording what happened."""

import logging
import time
import uuid
from decimal import Decimal
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import Account, Membership, User
from audit import hub
from audit.services import audit_record
from contacts.selectors import opted_out_pairs
from core.errors import ApplicationError, Conflict, Forbidden, NotFound, RateLimited
from core.phone import parse_recipient
from messaging import sql
from messaging.backends import OutgoingSms, SendResult, get_backend
from messaging.backends.testmode import TestModeBackend
from messaging.dispatch import dispatcher, publish
from messaging.models import REDACTED_TEXT, LedgerEntry, Message, MessageEvent
from messaging.services.ledger import _ledger_write
from messaging.workers import claim_tag

logger = logging.getLogger(__name__)

OPTED_OUT = "opted_out"  # the error code of a message to a number opted out of the account's messages
QUEUED_ONLY = (Message.Status.QUEUED,)


# --- Sending -----------------------------------------------------------------------------------


def enqueue_delivery(message_ids: list, *, at_once: bool = False) -> None:
    """After the commit, hand the ids to this process's dispatcher (messaging/dispatch.py), which
    publishes them in batches; `at_once`, publish them now as their own task, the same task
    without the buffer (system messages: a security code must not wait where a killed process
    loses it). Robust: a broker hiccup after the commit must not turn an accepted request into a
    500; the message stays `queued` and the recovery sweep re-enqueues it (messages_requeue_stale)."""
    ids = [str(message_id) for message_id in message_ids]
    if ids:
        transaction.on_commit(partial(publish if at_once else dispatcher.add, ids), robust=True)


def message_send_system(
    *, account: Account | None, user: User | None, to: str, text: str, sensitive: bool = False, sender: str = ""
) -> Message:
    """A free system message (2FA codes, an opt-out's confirmation reply): never charged, never
    subject to the account's opt-outs (it is not a send of the account's: message_submit's rule),
    published at its commit. From `sender` (an inbound number replying), else the product's
    system sender."""
    message = Message.objects.create(
        account=account,
        submitted_by=user,
        is_system=True,
        sensitive=sensitive,
        sender=sender or settings.SMS_SYSTEM_SENDER,
        recipient=to,
        text=text,
    )
    enqueue_delivery([message.pk], at_once=True)
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
    # The rule every recipient passes (core/phone.py): a number stored before it was checked
    # (an older demo account's, say) gets no SMS, free or not.
    parsed = parse_recipient(user.phone)
    if parsed is None:
        raise ApplicationError(
            f"Your mobile number {user.phone} is not a valid number. Set up your phone under "
            "Security, two-factor sign-in, then try again.",
            code="invalid_phone",
        )
    if not membership.account.is_active:
        raise Forbidden("The account is suspended.", code="account_suspended")
    # The membership row lock serialises two clicks at once, so the cooldown holds.
    type(membership).objects.select_for_update().only("id").get(pk=membership.pk)
    since = timezone.now() - timezone.timedelta(seconds=TEST_SMS_COOLDOWN_SECONDS)
    if Message.objects.filter(submitted_by=user, is_system=True, created_at__gte=since).exists():
        raise RateLimited(
            f"A test message was sent less than {TEST_SMS_COOLDOWN_SECONDS} seconds ago; try again shortly.",
            code="rate_limited",
        )
    message = message_send_system(account=membership.account, user=user, to=parsed[0], text=TEST_SMS_TEXT)
    audit_record(action="sms.test_sent", account=membership.account, actor=user, target=message)
    return message


# --- Delivery ----------------------------------------------------------------------------------

# The statuses a customer hears about (SPEC §7), published on the audit hub where a message reaches
# them; the webhooks app subscribes. Nothing is published for system messages (sign-in codes,
# test SMS: never shown through the API), and the hub does nothing when nobody subscribed.
STATUS_EVENTS = {
    Message.Status.SENT: "message.sent",
    Message.Status.DELIVERED: "message.delivered",
    Message.Status.UNDELIVERED: "message.undelivered",
    Message.Status.FAILED: "message.failed",
}


def message_status_published(*, account_id: int | None, message_id, status: str) -> None:
    """Tell the hub's subscribers that a customer's message reached `status` (after the commit)."""
    action = STATUS_EVENTS.get(status)
    if action is not None and account_id is not None:
        hub.publish(hub.Event(action=action, account_id=account_id, object_type="message", object_id=str(message_id)))


HANDED_OVER = "handed to the gateway"


def message_claim(message_id, *, claimed_by: str) -> bool:
    """queued → sending in one conditional UPDATE: of two workers holding the same id, one wins.
    `claimed_by` names this worker process (messaging/workers.py), for the recovery sweep."""
    return sql.message_claim(message_id=message_id, now=timezone.now(), claimed_by=claimed_by)


def message_record_result(
    message_id, result: SendResult, *, sensitive: bool = False, account_id: int | None = None
) -> None:
    """The gateway's answer for a claimed message: handed over, in doubt (left `sending`), back to
    the queue (provably never handed over) or failed for good. `account_id` is the customer's
    whose message it is (None for a system message): a hand-over is published for it."""
    if sensitive and not result.retryable:
        # Handed over (or refused for good): a security code has no reason to stay at rest, whatever
        # state a delivery report has already moved the message to.
        Message.objects.filter(pk=message_id, sensitive=True).update(text=REDACTED_TEXT)
    if result.status in ("sent", "delivered"):
        # The hand-over and its event, in one statement on PostgreSQL: the hot path of delivery.
        moved = sql.message_record_sent(
            message_id=message_id,
            status=result.status,
            provider_id=result.provider_id,
            detail=HANDED_OVER,
            now=timezone.now(),
        )
        if moved:
            message_status_published(account_id=account_id, message_id=message_id, status=result.status)
    elif result.status == "unknown":
        # The gateway may or may not have taken it (a read timeout, a dropped connection): it stays
        # `sending`, so a delivery report can prove the hand-over, or the watchdog resends it after
        # its grace period. The claim is released: the recovery sweep's fast path is for a worker
        # that died mid-hand-over, and this one lived to hear nothing (a restart must not resend it).
        Message.objects.filter(pk=message_id, status=Message.Status.SENDING).update(claimed_by="")
        return
    elif result.retryable:
        # Provably never handed over (refused, unreachable): back to the queue, and the claim's
        # attempt is given back in the same UPDATE, since MAX_HANDOVER_ATTEMPTS counts only the
        # hand-overs that may have reached the gateway.
        Message.objects.filter(pk=message_id, status=Message.Status.SENDING).update(
            status=Message.Status.QUEUED,
            error_code=result.error_code,
            attempts=Greatest(F("attempts") - 1, Value(0)),
        )
    elif result.status == "undelivered":
        message_fail(message_id=message_id, error_code=result.error_code, status=Message.Status.UNDELIVERED)
    else:
        message_fail(message_id=message_id, error_code=result.error_code or "gateway_rejected")


def customer(message: Message) -> int | None:
    """The account a message's status events are published for: None for a system message."""
    return None if message.is_system else message.account_id


def message_deliver(*, message_ids: list[str], deadline: float | None = None) -> list[str]:
    """Hand queued messages to the backend, one at a time, each claimed right before and recorded
    right after, so a killed worker leaves at most one message in doubt. Returns the ids to retry.

    The batch's rows are read once; each message then costs two small UPDATEs and the gateway call.
    Celery's soft time limit (SoftTimeLimitExceeded) may land anywhere: whatever has not been
    claimed goes back to the queue, a message whose gateway call it interrupts stays `sending`
    (it may have left: a delivery report or the watchdog settles it), and one it interrupts while
    recording a finished hand-over is recorded still (else the watchdog would send it again).
    Past `deadline` (time.monotonic()), no further message is claimed: the rest go out in a new
    task. That, not Celery's time limits, bounds a batch under the thread pool, which enforces
    none. Messages never tried are enqueued afresh; only failed attempts are returned, so they
    alone spend the task's retries and wait for its backoff.
    """
    live_backend, test_backend = get_backend(), TestModeBackend()
    claimed_by = claim_tag()
    retry: list[str] = []
    try:
        rows = {
            str(row.pk): row
            for row in Message.objects.filter(pk__in=message_ids, status=Message.Status.QUEUED)
            .select_related("account")
            .only(
                "id",
                "recipient",
                "sender",
                "text",
                "created_at",
                "sensitive",
                "is_test",
                "is_system",
                "account__status",
            )
        }
        # A suspended account's messages stay (held for staff); the product's own (sign-in codes) go.
        suspended = [
            pk
            for pk, row in rows.items()
            if not row.is_system and row.account is not None and row.account.status == Account.Status.SUSPENDED
        ]
        if suspended:
            with transaction.atomic():
                hold_for_suspension(suspended)
            for pk in suspended:
                del rows[pk]
        for pk in _opted_out_since_accepted(rows):
            del rows[pk]
    except SoftTimeLimitExceeded:
        enqueue_delivery([str(i) for i in message_ids])
        return []
    for position, message_id in enumerate(message_ids):
        stage, message, result = "claim", None, None
        if deadline is not None and position and time.monotonic() >= deadline:
            enqueue_delivery([str(i) for i in message_ids[position:]])  # out of time: a new task
            return retry
        try:
            message = rows.get(str(message_id))
            if message is None or not message_claim(message.pk, claimed_by=claimed_by):
                continue  # already handed over, canceled, or claimed by another worker
            sms = OutgoingSms(
                id=str(message.pk),
                to=message.recipient,
                sender=message.sender,
                text=message.text,
                created_at=message.created_at,
            )
            stage = "send"
            try:
                # Test-mode messages never reach a gateway.
                [result] = (test_backend if message.is_test else live_backend).send_messages([sms])
            except SoftTimeLimitExceeded:
                raise
            except Exception as exc:
                # The class only: a backend's exception text may carry its URL and credentials.
                logger.error("SMS backend raised %s for message %s", type(exc).__name__, message_id)
                result = SendResult(id=sms.id, status="failed", error_code="backend_error", retryable=True)
            stage = "record"
            message_record_result(message.pk, result, sensitive=message.sensitive, account_id=customer(message))
        except SoftTimeLimitExceeded:
            # Out of time (the hard limit follows): wrap up this one and put the rest back.
            unsent = [str(i) for i in message_ids[position + 1 :]]
            if stage == "claim":
                # Not handed over. Had its claim committed, it waits in `sending` for the watchdog.
                unsent.insert(0, str(message_id))
            elif stage == "record":
                try:
                    # Each of its steps is conditional: running it again is safe.
                    message_record_result(message.pk, result, sensitive=message.sensitive, account_id=customer(message))
                except Exception as exc:  # the interrupted statement may have left the connection unusable
                    logger.error("Could not record message %s past the time limit (%s)", message_id, type(exc).__name__)
                else:
                    if result.status == "failed" and result.retryable:
                        retry.append(str(message_id))
            enqueue_delivery(unsent)
            return retry
        if result.status == "failed" and result.retryable:
            retry.append(str(message_id))
    return retry


def _refund(message: Message, note: str) -> None:
    """Give a message's cost back: to the balance (a ledger row) and to the sub-user's monthly
    spend when it was charged in the current month. Call under the message's row lock."""
    if message.cost <= 0 or message.is_system or message.is_test:
        return  # nothing was charged
    _ledger_write(
        account_id=message.account_id,
        kind=LedgerEntry.Kind.REFUND,
        amount=message.cost,
        note=note[:200],
        batch_id=message.batch_id,
    )
    if message.submitted_by_id:
        month = message.created_at.date().replace(day=1)
        Membership.objects.filter(user_id=message.submitted_by_id, spent_month=month).update(
            monthly_spent=Greatest(F("monthly_spent") - message.cost, Value(Decimal("0")))
        )


def status_event(message_id, status: str, detail: str = "") -> None:
    MessageEvent.objects.create(message_id=message_id, status=status, detail=detail[:200])


def status_events(message_ids: list, status: str, detail: str) -> None:
    """The same event for many messages, in one INSERT."""
    MessageEvent.objects.bulk_create(
        [MessageEvent(message_id=message_id, status=status, detail=detail[:200]) for message_id in message_ids]
    )


def _opted_out_since_accepted(rows: dict) -> list[str]:
    """The batch's messages whose recipient opted out after they were accepted (a scheduled send,
    one deferred to a sending window, a held one staff released): rejected (`opted_out`) and
    refunded, never handed over. One query for the batch; the product's own messages are exempt."""
    pairs = {(row.account_id, row.recipient) for row in rows.values() if not row.is_system and row.account_id}
    stopped = opted_out_pairs(pairs)
    gone = [pk for pk, row in rows.items() if (row.account_id, row.recipient) in stopped and not row.is_system]
    for pk in gone:
        message_fail(message_id=pk, error_code=OPTED_OUT, status=Message.Status.REJECTED, only_if=QUEUED_ONLY)
    return gone


@transaction.atomic
def message_fail(
    *, message_id, error_code: str, status: str = Message.Status.FAILED, only_if: tuple[str, ...] | None = None
) -> bool:
    """A final failure. `failed` is refunded, once; `undelivered` (the network took it, the phone
    did not) is not, as SPEC §3 says. With `only_if`, nothing happens unless the message is still
    in one of those states."""
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.status in Message.FINAL_STATUSES or (only_if is not None and message.status not in only_if):
        return False
    message.status = status
    message.error_code = error_code[:64]
    if message.sensitive:
        message.text = REDACTED_TEXT
    message.save(update_fields=["status", "error_code", "text"])
    status_event(message.pk, status, error_code)
    if status in Message.REFUNDED_STATUSES:
        _refund(message, f"Refund for {status} message {message.pk}")
    message_status_published(account_id=customer(message), message_id=message.pk, status=status)
    return True


@transaction.atomic
def message_cancel(*, account_id: int, message_id, actor: User | None) -> Message:
    """Cancel a scheduled (or held) message before it leaves, with a refund."""
    return messages_cancel(account_id=account_id, message_ids=[message_id], actor=actor)[0]


@transaction.atomic
def messages_cancel(*, account_id: int, message_ids: list, actor: User | None) -> list[Message]:
    """Cancel scheduled (or held) messages of one account before they leave, each refunded: all
    of them or none (NotFound / Conflict naming the first that cannot be). The messages are
    locked first, in primary-key order, and the account only then (by the refunds), the order
    every other path takes, so concurrent cancels and deliveries cannot deadlock."""
    wanted = list(dict.fromkeys(_message_uuid(message_id) for message_id in message_ids))
    found = {
        message.pk: message
        for message in Message.objects.select_for_update().filter(account_id=account_id, pk__in=wanted).order_by("pk")
    }
    messages = []
    for message_id in wanted:
        message = found.get(message_id)
        if message is None:
            detail = "No such message." if len(wanted) == 1 else f"No such message: {message_id}."
            raise NotFound(detail, code="not_found")
        if message.status not in (Message.Status.SCHEDULED, Message.Status.HELD):
            state = message.get_status_display().lower()
            raise Conflict(
                f"Only scheduled messages can be canceled; this one is {state}."
                if len(wanted) == 1
                else f"Only scheduled messages can be canceled; {message.pk} is {state}.",
                code="not_cancelable",
            )
        messages.append(message)
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(status=Message.Status.CANCELED)
    status_events([m.pk for m in messages], Message.Status.CANCELED, f"by {actor}" if actor else "")
    for message in messages:
        message.status = Message.Status.CANCELED
        _refund(message, f"Refund for canceled message {message.pk}")
    return messages


def _message_uuid(message_id) -> uuid.UUID:
    try:
        return message_id if isinstance(message_id, uuid.UUID) else uuid.UUID(str(message_id))
    except ValueError:
        raise NotFound(f"No such message: {str(message_id)[:40]}.", code="not_found") from None


@transaction.atomic
def messages_review(*, message_ids: list, release: bool, actor: User | None) -> int:
    """Staff decision on held messages: release them to the queue, or reject them (refunded)."""
    changed = 0
    now = timezone.now()
    for message in Message.objects.select_for_update().filter(pk__in=message_ids, status=Message.Status.HELD):
        if release:
            due = message.scheduled_at is None or message.scheduled_at <= now
            message.status = Message.Status.QUEUED if due else Message.Status.SCHEDULED
            message.error_code = ""
            message.save(update_fields=["status", "error_code"])
            status_event(message.pk, Message.Status.QUEUED, f"released by {actor}")
            if due:
                enqueue_delivery([message.pk])
        else:
            message.status = Message.Status.REJECTED
            message.save(update_fields=["status"])
            status_event(message.pk, Message.Status.REJECTED, f"rejected by {actor}")
            _refund(message, f"Refund for rejected message {message.pk}")
        changed += 1
    if changed:
        audit_record(
            action="messages.released" if release else "messages.rejected",
            actor=actor,
            data={"count": changed},
        )
    return changed


# --- Delivery reports -------------------------------------------------------------------------


ACCOUNT_SUSPENDED = "account_suspended"


def hold_for_suspension(message_ids: list) -> int:
    """Messages of a suspended account do not leave: they are held (not refunded) for staff, who
    release them once the account is active again, or reject them (refunded)."""
    if not message_ids:
        return 0
    # Under the rows' locks (the caller's transaction): a worker's claim waits, then finds them held.
    held = list(
        Message.objects.select_for_update()
        .filter(pk__in=message_ids, status__in=[Message.Status.SCHEDULED, Message.Status.QUEUED])
        .values_list("pk", flat=True)
    )
    Message.objects.filter(pk__in=held).update(status=Message.Status.HELD, error_code=ACCOUNT_SUSPENDED)
    status_events(held, Message.Status.HELD, "the account is suspended")
    return len(held)
