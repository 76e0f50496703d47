"""Accepting messages: the one service behind the API, the portal's send form and the legacy
endpoint. All or nothing: a request is validated, priced once, debited once under row locks and
bulk-inserted in one transaction; delivery is enqueued after the commit."""

import functools
import hashlib
import json
import re
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import normalize_newlines

from accounts.models import Account, Membership, User
from audit.services import audit_record
from contacts.selectors import group_numbers as group_numbers_of
from core.errors import ApplicationError, Conflict, Forbidden
from core.ids import uuid7
from core.text import UNSTORABLE
from core.timezones import zone as time_zone
from messaging import sql
from messaging.models import IdempotencyRecord, Message
from messaging.pricing import PriceList
from messaging.segments import count_segments
from messaging.selectors import sender_names_allowed
from messaging.services.charging import PRECHECK_ABOVE, charge, precheck, suspended_error
from messaging.services.delivery import OPTED_OUT, enqueue_delivery
from messaging.services.recipients import invalid_recipients_error, recipients_price, recipients_resolve
from messaging.services.screening import screen_text
from messaging.windows import has_window

SENDER_ALNUM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .&_-]{0,10}$")
SENDER_NUMERIC = re.compile(r"^\+?[0-9]{3,15}$")
IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass
class SubmitResult:
    batch_id: uuid.UUID
    messages: list[Message]
    total_cost: Decimal
    balance: Decimal
    replayed: bool = False
    stored_response: dict | None = field(default=None, repr=False)


# --- Validation -------------------------------------------------------------------------------


def _text(text: str):
    if not text or not text.strip():
        raise ApplicationError("The message text is empty.", code="invalid_request", errors={"text": ["Required."]})
    info = count_segments(text)
    if info.segments > settings.SMS_MAX_SEGMENTS:
        raise ApplicationError(
            f"The text needs {info.segments} parts; at most {settings.SMS_MAX_SEGMENTS} are allowed "
            f"({info.encoding}, {info.units} {'septets' if info.encoding == 'GSM-7' else 'UCS-2 units'}).",
            code="text_too_long",
            errors={"text": [f"Too long: {info.segments} parts, at most {settings.SMS_MAX_SEGMENTS}."]},
        )
    return info


def _sender(
    *, account: Account, membership: Membership | None, sender: str | None, own_numbers: frozenset[str] = frozenset()
) -> str:
    """What the messages go out as: an approved sender name the member may use (SPEC §3), or one
    of the account's own inbound numbers (`own_numbers`, which the inbound app looks up for a
    reply from its inbox: the number the conversation is with, whatever names a sub-user is
    limited to)."""
    if sender and sender.strip() in own_numbers:
        return sender.strip()
    names = sender_names_allowed(account_id=account.pk, membership=membership)
    if not sender:
        if names.default is None:
            raise Forbidden("None of the sender names you may use is approved.", code="sender_not_allowed")
        return names.default
    sender = sender.strip()
    if not (SENDER_ALNUM.match(sender) or SENDER_NUMERIC.match(sender)):
        raise ApplicationError(
            "A sender is up to 11 letters and digits, or a phone number.",
            code="invalid_request",
            errors={"sender": ["Invalid sender name."]},
        )
    if sender not in names.approved:
        raise Forbidden(f"The sender “{sender}” is not approved for this account.", code="sender_not_allowed")
    if sender not in names.names:
        raise Forbidden(f"You may not send as “{sender}”.", code="sender_not_allowed")
    return sender


def _schedule(scheduled_at: datetime | None, now: datetime) -> datetime | None:
    if scheduled_at is None:
        return None
    if timezone.is_naive(scheduled_at):
        raise ApplicationError(
            "Give the time with its zone, e.g. 2026-05-01T09:00:00Z.",
            code="invalid_request",
            errors={"scheduled_at": ["A time zone is required."]},
        )
    if scheduled_at <= now:
        raise ApplicationError(
            "The scheduled time is in the past.", code="invalid_request", errors={"scheduled_at": ["In the past."]}
        )
    if scheduled_at > now + settings.SMS_MAX_SCHEDULE_AHEAD:
        raise ApplicationError(
            "Messages can be scheduled at most 30 days ahead.",
            code="invalid_request",
            errors={"scheduled_at": ["More than 30 days ahead."]},
        )
    return scheduled_at


def sending_window_opening(membership: Membership | None, at: datetime) -> datetime | None:
    """None when `at` is inside the sub-user's sending window (or it has none); otherwise the
    next moment the window opens."""
    if not has_window(membership):
        return None
    days = set(membership.window_weekdays or [])
    start, end = membership.window_start, membership.window_end
    zone = time_zone(membership.window_timezone or "UTC")
    days = days or {1, 2, 3, 4, 5, 6, 7}
    start = start or time(0, 0)
    end = end or time(23, 59, 59, 999999)

    def is_open(moment: datetime) -> bool:
        local = moment.astimezone(zone)
        t = local.timetz().replace(tzinfo=None)
        if start <= end:
            return local.isoweekday() in days and start <= t < end
        # An overnight window (22:00 to 06:00) belongs to the day it starts on.
        if t >= start:
            return local.isoweekday() in days
        previous_day = (local - timedelta(days=1)).isoweekday()
        return t < end and previous_day in days

    if is_open(at):
        return None
    local = at.astimezone(zone)
    for offset in range(0, 8):
        day: date = (local + timedelta(days=offset)).date()
        candidate = datetime.combine(day, start, tzinfo=zone)
        if candidate > at and candidate.isoweekday() in days:
            return candidate.astimezone(UTC)
    return None


def _refuse_unstorable(*, text: str, sender: str | None, reference: str, idempotency_key: str | None) -> None:
    """A 400 for characters no column can hold, rather than the INSERT's 500. (Recipients need no
    such check: only their E.164 form is stored, and one that does not parse is named in the
    error, which the API's renderers escape.)"""
    fields = [
        ("text", "text", text),
        ("sender", "sender", sender),
        ("reference", "reference", reference),
        ("idempotency_key", "Idempotency-Key", idempotency_key),
    ]
    for name, label, value in fields:
        if isinstance(value, str) and UNSTORABLE.search(value):
            raise ApplicationError(
                f"The {label} holds a character that cannot be stored (a NUL, or half of a UTF-16 surrogate pair).",
                code="invalid_request",
                errors={name: ["Invalid character."]},
            )


def request_fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# --- The service ------------------------------------------------------------------------------


def message_submit(
    *,
    account_id: int,
    user: User | None,
    caller: str,
    to: list[str],
    text: str,
    to_groups: list[int] | None = None,
    sender: str | None = None,
    scheduled_at: datetime | None = None,
    reference: str = "",
    references: dict[str, str] | None = None,
    idempotency_key: str | None = None,
    response_builder=None,
    test_mode: bool = False,
    account: Account | None = None,
    sensitive: bool = False,
    own_numbers: frozenset[str] = frozenset(),
    region: str = "",
) -> SubmitResult:
    """Accept a batch of messages, or refuse it whole with an ApplicationError.

    `caller` identifies who sent it for idempotency (user:<id> or token:<id>). In `test_mode`
    (test keys) everything is validated and priced alike, but nothing is charged or counted, and
    the messages never reach a gateway; such a request may pass the `account` (and the `user`
    with its membership) as the API's request chain loaded them, at most a second ago, instead of
    reading them again. With an
    `idempotency_key`, the same key from the same caller within 24 hours returns the first
    result (`replayed=True` with `stored_response`), and a different request body under the same
    key is a 409 conflict. `response_builder(result) -> dict` makes the stored response.
    `to_groups` adds the numbers of the contacts in those groups of the account (an id that is
    not one of its groups is a 400 naming it); with `to`, each number is sent once.
    `sensitive`: the text holds a security code (the Verify API's): it is charged like any
    message, but published at once (never held in the dispatch buffer) and redacted once handed
    over, and it is never deferred or held, where it would wait past its life (a sub-user outside
    its sending window, a link on the blocklist): that is refused instead.
    `own_numbers` are the account's inbound numbers, allowed as the `sender` (see _sender).
    `references` gives some recipients (by E.164 number) a reference of their own instead of
    `reference` (SMSAPI's per-recipient `idx`).
    `region`: the account's default country, for national numbers in `to` (the portal's forms;
    never the API's, which takes E.164).
    """
    _refuse_unstorable(text=text, sender=sender, reference=reference, idempotency_key=idempotency_key)
    for each in (references or {}).values():
        _refuse_unstorable(text="", sender=None, reference=each, idempotency_key=None)
    fingerprint = ""
    if idempotency_key:
        request = {"to": to, "text": text, "sender": sender, "scheduled_at": scheduled_at, "reference": reference}
        if to_groups:  # only then: the fingerprints of earlier requests stay what they were
            request["to_groups"] = to_groups
        if references:
            request["references"] = references
        fingerprint = request_fingerprint(request)
        replay = _idempotent_replay(account_id=account_id, caller=caller, key=idempotency_key, fingerprint=fingerprint)
        if replay is not None:
            return replay
    # A line break is one character, as the send form's counter shows it: CR LF (what browsers
    # post for a textarea's line breaks) and a lone CR become LF before anything is counted.
    text = normalize_newlines(text) if isinstance(text, str) else text
    now = timezone.now()
    group_numbers = group_numbers_of(account_id=account_id, group_ids=to_groups) if to_groups else None
    resolved = recipients_resolve(to, group_numbers, region=region)
    if resolved.invalid:
        raise invalid_recipients_error(resolved.invalid, region=region)
    recipients = resolved.numbers
    info = _text(text)
    scheduled_at = _schedule(scheduled_at, now)
    if any(len(each) > 100 for each in [reference, *(references or {}).values()]):
        raise ApplicationError("The reference is at most 100 characters.", code="invalid_request")
    prices = PriceList()
    blocked = screen_text(text)
    # A test request without an Idempotency-Key only inserts its messages, which is atomic on its
    # own (one statement, or bulk_create's transaction): none around it, two round trips fewer.
    needs_transaction = not test_mode or bool(idempotency_key)
    try:
        with transaction.atomic() if needs_transaction else nullcontext():
            if idempotency_key:
                # The same key from the same caller, at the same time: one request goes ahead, the
                # others wait for its commit and answer as it did (not "no credit", say, because
                # the first one spent it).
                _lock_idempotency_key(account_id=account_id, caller=caller, key=idempotency_key)
                replay = _idempotent_replay(
                    account_id=account_id, caller=caller, key=idempotency_key, fingerprint=fingerprint
                )
                if replay is not None:
                    return replay
            result = _submit_locked(
                account_id=account_id,
                account=account,
                user=user,
                recipients=recipients,
                text=text,
                info=info,
                sender=sender,
                scheduled_at=scheduled_at,
                reference=reference,
                references=references or {},
                prices=prices,
                blocked=blocked,
                now=now,
                test_mode=test_mode,
                sensitive=sensitive,
                own_numbers=own_numbers,
            )
            if idempotency_key:
                # A record past its 24 hours no longer answers; make room for this one.
                IdempotencyRecord.objects.filter(
                    account_id=account_id,
                    caller=caller,
                    key=idempotency_key[:255],
                    created_at__lt=timezone.now() - IDEMPOTENCY_TTL,
                ).delete()
                IdempotencyRecord.objects.create(
                    account_id=account_id,
                    caller=caller,
                    key=idempotency_key[:255],
                    request_hash=fingerprint,
                    response=response_builder(result) if response_builder else {"batch_id": str(result.batch_id)},
                )
    except IntegrityError:
        if not idempotency_key:
            raise
        # The same key committed by a concurrent request first: answer as it did.
        replay = _idempotent_replay(account_id=account_id, caller=caller, key=idempotency_key, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay
    return result


def _lock_idempotency_key(*, account_id: int, caller: str, key: str) -> None:
    """A transaction-scoped lock on (account, caller, key). SQLite (`make run`) has none; its
    concurrent repeats fall back on the records' unique constraint, which still sends once but
    may refuse a repeat instead of answering as the first request did."""
    digest = hashlib.sha256(f"idempotency:{account_id}:{caller}:{key[:255]}".encode()).digest()
    sql.advisory_lock(key=int.from_bytes(digest[:8], "big", signed=True))


def _idempotent_replay(*, account_id: int, caller: str, key: str, fingerprint: str) -> SubmitResult | None:
    record = IdempotencyRecord.objects.filter(
        account_id=account_id, caller=caller, key=key[:255], created_at__gte=timezone.now() - IDEMPOTENCY_TTL
    ).first()
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with a different request.",
            code="idempotency_conflict",
        )
    return SubmitResult(
        batch_id=uuid.UUID(record.response.get("batch_id")) if record.response.get("batch_id") else uuid.uuid4(),
        messages=[],
        total_cost=Decimal(str(record.response.get("total_cost", "0"))),
        balance=Decimal(str(record.response.get("balance", "0"))),
        replayed=True,
        stored_response=record.response,
    )


def _submit_locked(
    *,
    account_id,
    account,
    user,
    recipients,
    text,
    info,
    sender,
    scheduled_at,
    reference,
    references,
    prices,
    blocked,
    now,
    test_mode,
    own_numbers,
    sensitive=False,
):
    # The checks that need no lock read what the request chain loaded (at most a second ago), or
    # the database now. Test mode moves no money and takes no lock at all (test traffic never
    # queues behind live sends); live money moves under row locks in charge.
    if account is None or account.pk != account_id:
        account = Account.objects.get(pk=account_id)
    membership = getattr(user, "membership", None) if user is not None else None
    if membership is not None and membership.account_id != account.pk:
        membership = None
    if not account.is_active:
        raise suspended_error()
    if user is not None:
        if membership is None or not user.is_active:
            raise Forbidden("This user cannot send for the account.", code="forbidden")
        if not membership.has_permission("send_sms"):
            raise Forbidden("You do not have permission to send messages.", code="forbidden")
    sender_name = _sender(account=account, membership=membership, sender=sender, own_numbers=own_numbers)

    opening = sending_window_opening(membership, scheduled_at or now)
    if sensitive and (opening is not None or blocked):
        raise _sensitive_refusal(opening, blocked)
    if opening is not None:
        scheduled_at = opening
    batch_id = uuid7()
    messages: list[Message] = []
    status = Message.Status.HELD if blocked else Message.Status.SCHEDULED if scheduled_at else Message.Status.QUEUED
    error_code = f"blocked_domain:{blocked}"[:64] if blocked else ""
    # Numbers opted out of the account's messages (one query for all of them) are `rejected`, free,
    # never handed over; the rest of the request goes ahead (SPEC §3).
    priced = recipients_price(account_id=account.pk, numbers=recipients, info=info, prices=prices)
    opted_out, total = priced.opted_out, priced.total
    for (number, _), cost in zip(recipients, priced.costs, strict=True):
        skipped = number in opted_out
        messages.append(
            new_message(
                id=uuid7(),
                account_id=account.pk,
                submitted_by_id=user.pk if user is not None else None,
                sender=sender_name,
                recipient=number,
                text=text,
                encoding=info.encoding,
                segments=info.segments,
                cost=cost,
                status=Message.Status.REJECTED if skipped else status,
                error_code=OPTED_OUT if skipped else error_code,
                reference=references.get(number, reference),
                batch_id=batch_id,
                scheduled_at=scheduled_at,
                created_at=now,
                is_test=test_mode,
                sensitive=sensitive,
            )
        )
    if user is not None:
        submitter = Message._meta.get_field("submitted_by")
        for message in messages:
            submitter.set_cached_value(message, user)  # message.submitted_by without a query
    going = [m for m in messages if m.recipient not in opted_out] if opted_out else messages
    if test_mode:
        sql.messages_insert(messages)
        if status == Message.Status.QUEUED:
            enqueue_delivery([m.id for m in going], at_once=sensitive)
        return SubmitResult(batch_id=batch_id, messages=messages, total_cost=total, balance=account.balance)

    if len(going) > PRECHECK_ABOVE:
        precheck(account=account, membership=membership, total=total, count=len(going), now=now)
    sql.messages_insert(messages)  # first: it waits for no lock, so the account's lock is held the shorter
    balance = charge(
        account=account, membership=membership, user=user, total=total, count=len(going), batch_id=batch_id, now=now
    )
    if status == Message.Status.QUEUED:
        enqueue_delivery([m.id for m in going], at_once=sensitive)
    if blocked:
        audit_record(
            action="messages.held",
            account=account,
            actor=user,
            data={"batch_id": str(batch_id), "domain": blocked, "count": len(going)},
        )
    return SubmitResult(batch_id=batch_id, messages=messages, total_cost=total, balance=balance)


def _sensitive_refusal(opening: datetime | None, blocked: str | None) -> ApplicationError:
    if opening is not None:
        return Forbidden(
            f"You may send only within your sending window (it opens {opening:%Y-%m-%d %H:%M} UTC); a security code "
            "cannot wait for it.",
            code="outside_sending_window",
        )
    return ApplicationError(
        f"The text links to {blocked}, a domain that is held for review; a security code cannot wait for it.",
        code="blocked_domain",
        errors={"text": [f"Links to a blocked domain ({blocked})."]},
    )


# --- Charging a live request ------------------------------------------------------------------
#
# The account's row lock serialises every live send of an account, so it is taken as late and
# held as briefly as possible: the messages are inserted before it (their INSERT waits for no
# lock), and the debit and its ledger entry are one statement on PostgreSQL. The rules and their
# lock order (the hour's traffic counter, then the account, then the membership) are
# messaging/sql.py's.


@functools.cache
def _message_columns() -> tuple[tuple[str, object, bool], ...]:
    """(attname, default, default is callable) of each Message column, in the model's order."""
    columns = []
    for column in Message._meta.concrete_fields:
        dynamic = column.has_default() and callable(column.default)
        columns.append((column.attname, column.default if dynamic else column.get_default(), dynamic))
    return tuple(columns)


def new_message(**values) -> Message:
    """Message(**values), built with every column in order (Django's fast path: no keyword
    matching), the model's defaults for the rest. A 10,000-recipient request builds 10,000."""
    row = []
    for name, default, is_callable in _message_columns():
        if name in values:
            row.append(values.pop(name))
        else:
            row.append(default() if is_callable else default)
    if values:
        raise TypeError(f"Not Message columns: {', '.join(values)}")
    return Message(*row)


def idempotency_records_purge() -> int:
    """Beat: records past their 24 hours answer nothing any more."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_TTL).delete()
    return deleted
