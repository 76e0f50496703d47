"""All of the messaging app's raw SQL, each PostgreSQL statement beside the ORM expression of the
same rule.

Each rule is one function with the same arguments and the same answer on every database: on
PostgreSQL (`native()`) it runs its statement, elsewhere (SQLite under `make run`) the ORM's
steps. A statement is here only where it buys something on a hot path (a send, a hand-over, a
delivery report, the balance an API client polls): one round trip instead of several, and no ORM
query building per message. The services call these functions and hold no SQL.
tests/messaging/test_sql_rules.py runs every rule both ways against the same expectations (the
ORM's on SQLite too).

Table names come from the models (`_meta.db_table`), quoted by the connection; every value is a
parameter. The statements' texts never change, so psycopg prepares them on the server after a few
runs on a connection (`prepare_threshold`, with `server_side_binding`: portal/settings.py).
"""

import functools
import re
import uuid
from contextlib import nullcontext
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from accounts.models import Account, Membership
from messaging.models import LedgerEntry, Message, MessageEvent, TrafficCounter

_TABLES = {
    "account": Account,
    "ledger": LedgerEntry,
    "membership": Membership,
    "message": Message,
    "event": MessageEvent,
    "traffic": TrafficCounter,
}


def native() -> bool:
    """Whether the PostgreSQL statements apply (SQLite, under `make run`, takes the ORM's steps)."""
    return connection.vendor == "postgresql"


@functools.cache
def _sql(template: str) -> str:
    """A statement with its tables named as the models name them, quoted for the database."""
    quote = connection.ops.quote_name
    return template.format(**{name: quote(model._meta.db_table) for name, model in _TABLES.items()})


def _run(template: str, params) -> tuple[tuple | None, int]:
    """Run one statement: its first row (None without one) and its row count."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(template), params)
        row = cursor.fetchone() if cursor.description else None
        return row, cursor.rowcount


def _message_pk(message_id) -> uuid.UUID:
    return Message._meta.pk.to_python(message_id)


# --- A send -----------------------------------------------------------------------------------
# Lock order of a live send: the hour's traffic counter (only sends take it), then the account,
# then the membership, as refunds (message, account, membership). Every rule below runs in the
# caller's transaction.

_TRAFFIC_ADD = """
INSERT INTO {traffic} AS counter (account_id, hour, count, alerted)
VALUES (%(account_id)s, %(hour)s, %(count)s, false)
ON CONFLICT (account_id, hour) DO UPDATE SET count = counter.count + EXCLUDED.count
RETURNING count, alerted
"""


def traffic_add(*, account_id: int, hour: datetime, count: int) -> tuple[int, bool]:
    """Count `count` messages in the account's hour; returns the hour's new total and whether it
    has been alerted on. The counter's row stays locked until the transaction ends."""
    if native():
        row, _ = _run(_TRAFFIC_ADD, {"account_id": account_id, "hour": hour, "count": count})
        return row[0], row[1]
    counter, _ = TrafficCounter.objects.get_or_create(account_id=account_id, hour=hour)
    TrafficCounter.objects.filter(pk=counter.pk).update(count=F("count") + count)
    # Read after the UPDATE, which holds the row: exact even beside a concurrent send.
    total, alerted = TrafficCounter.objects.filter(pk=counter.pk).values_list("count", "alerted").get()
    return total, alerted


_ACCOUNT_DEBIT = """
WITH debit AS (
    UPDATE {account} SET balance = balance - %(total)s
    WHERE id = %(account_id)s AND status = %(active)s AND balance >= %(total)s
    RETURNING id, balance, low_balance_threshold, low_balance_alerted
), entry AS (
    INSERT INTO {ledger} (account_id, kind, amount, balance_after, note, batch_id, created_by_id, created_at)
    SELECT id, %(kind)s, -%(total)s, balance, %(note)s, %(batch_id)s, %(user_id)s, %(now)s FROM debit
)
SELECT balance, low_balance_threshold, low_balance_alerted FROM debit
"""


class Debit(NamedTuple):
    balance: Decimal  # after the debit
    low_balance_threshold: Decimal | None  # the account's, read under the same lock
    low_balance_alerted: bool


def account_debit(
    *, account_id: int, total: Decimal, note: str, batch_id, user_id: int | None, now: datetime
) -> Debit | None:
    """Take `total` from an active account's balance and write its ledger entry (a debit), under
    the account's row lock; returns the balance after with the account's low-balance threshold
    and flag (services/ledger.py decides from them, without a query of its own), or None
    (nothing changed) when the account is suspended or its balance is less than `total`."""
    if native():
        params = {"total": total, "account_id": account_id, "active": Account.Status.ACTIVE,
                  "kind": LedgerEntry.Kind.DEBIT, "note": note, "batch_id": batch_id, "user_id": user_id,
                  "now": now}  # fmt: skip
        row, _ = _run(_ACCOUNT_DEBIT, params)
        return None if row is None else Debit(*row)
    # In Python, as the ledger's other writes (services/ledger.py): exact on SQLite too, whose
    # arithmetic on a decimal column is floating point.
    account = (
        Account.objects.select_for_update(no_key=True)
        .only("status", "balance", "low_balance_threshold", "low_balance_alerted")
        .get(pk=account_id)
    )
    if account.status != Account.Status.ACTIVE or account.balance < total:
        return None
    balance = account.balance - total
    Account.objects.filter(pk=account_id).update(balance=balance)
    LedgerEntry.objects.create(
        account_id=account_id,
        kind=LedgerEntry.Kind.DEBIT,
        amount=-total,
        balance_after=balance,
        note=note,
        batch_id=batch_id,
        created_by_id=user_id,
        created_at=now,
    )
    return Debit(balance, account.low_balance_threshold, account.low_balance_alerted)


_MEMBERSHIP_SPEND = """
UPDATE {membership}
SET monthly_spent = CASE WHEN spent_month = %(month)s THEN monthly_spent ELSE 0 END + %(total)s,
    spent_month = %(month)s
WHERE id = %(membership_id)s
RETURNING monthly_spent, monthly_limit, role
"""


def membership_spend(*, membership_id: int, month: date, total: Decimal) -> tuple[Decimal, Decimal | None, str]:
    """Add `total` to the member's spend in `month` (the first of a month: a new month starts
    from zero), under the membership's row lock; returns (spent in the month, monthly limit, role)."""
    if native():
        row, _ = _run(_MEMBERSHIP_SPEND, {"month": month, "total": total, "membership_id": membership_id})
        return row[0], row[1], row[2]
    member = (
        Membership.objects.select_for_update()
        .only("monthly_spent", "spent_month", "monthly_limit", "role")
        .get(pk=membership_id)
    )
    spent = (member.monthly_spent if member.spent_month == month else Decimal("0")) + total
    Membership.objects.filter(pk=membership_id).update(monthly_spent=spent, spent_month=month)
    return spent, member.monthly_limit, member.role


def advisory_lock(*, key: int) -> None:
    """Hold a lock on a 64-bit `key` until the transaction ends (PostgreSQL's advisory lock).
    Nothing elsewhere: SQLite has no such lock (a write locks the whole database). No ORM
    expression does this, so it is taken whenever the database is PostgreSQL, `native()` or not."""
    if connection.vendor == "postgresql":
        _run("SELECT pg_advisory_xact_lock(%s)", [key])


UNNEST_BATCH = 10_000
_TYPE_MODIFIERS = re.compile(r"\(.*\)")  # varchar(16) -> varchar, numeric(16, 4) -> numeric
_ORM_BATCH = 2000


@functools.cache
def _message_attnames() -> tuple[str, ...]:
    return tuple(field.attname for field in Message._meta.concrete_fields)


@functools.cache
def _insert_one_sql() -> str:
    """INSERT of one message: only identifiers from the model and placeholders."""
    quote = connection.ops.quote_name
    fields = Message._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(Message._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


@functools.cache
def _insert_many_sql() -> str:
    """INSERT of many messages: one array parameter per column, each cast to its column's type
    without length or precision (an explicit cast to varchar(16) would cut a longer value
    silently; the column itself refuses it)."""
    quote = connection.ops.quote_name
    fields = Message._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    arrays = ", ".join(f"%s::{_TYPE_MODIFIERS.sub('', field.db_type(connection))}[]" for field in fields)
    return f"INSERT INTO {quote(Message._meta.db_table)} ({columns}) SELECT * FROM UNNEST({arrays})"  # noqa: S608


def messages_insert(messages: list[Message]) -> None:
    """Store the messages, all or none. On PostgreSQL one message (most API requests) is one
    INSERT, and more are one INSERT … SELECT FROM UNNEST per UNNEST_BATCH, each column sent as
    one array parameter: no per-value work in Django, and the same statement for any number of
    messages. The ORM's bulk_create elsewhere, within SQLite's limit of variables. Several
    statements run in one transaction, the caller's or their own."""
    if not native():
        Message.objects.bulk_create(messages, batch_size=_ORM_BATCH)
        return
    names = _message_attnames()
    with transaction.atomic() if len(messages) > UNNEST_BATCH else nullcontext(), connection.cursor() as cursor:
        if len(messages) == 1:
            [message] = messages
            cursor.execute(_insert_one_sql(), [getattr(message, name) for name in names])
        else:
            for start in range(0, len(messages), UNNEST_BATCH):
                chunk = messages[start : start + UNNEST_BATCH]
                cursor.execute(_insert_many_sql(), [[getattr(m, name) for m in chunk] for name in names])
    for message in messages:
        message._state.adding = False
        message._state.db = "default"


# --- The API's balance ------------------------------------------------------------------------

_MEMBER_BALANCE = """
SELECT a.balance, m.role, m.monthly_limit, m.monthly_spent, m.spent_month
FROM {membership} m JOIN {account} a ON a.id = m.account_id
WHERE m.id = %(membership_id)s AND m.account_id = %(account_id)s
"""


def member_balance(*, account_id: int, membership_id: int) -> tuple | None:
    """(balance, role, monthly limit, monthly spent, spent month) of a member of the account, or
    None when the account has no such member. Values as the database hands them back (the
    caller reads them through the models' fields)."""
    if native():
        row, _ = _run(_MEMBER_BALANCE, {"membership_id": membership_id, "account_id": account_id})
        return row
    return (
        Membership.objects.filter(pk=membership_id, account_id=account_id)
        .values_list("account__balance", "role", "monthly_limit", "monthly_spent", "spent_month")
        .first()
    )


# --- Delivery ---------------------------------------------------------------------------------

_MESSAGE_CLAIM = """
UPDATE {message} SET status = %(sending)s, sending_started_at = %(now)s, attempts = attempts + 1,
    claimed_by = %(claimed_by)s
WHERE id = %(id)s AND status = %(queued)s
"""


def message_claim(*, message_id, now: datetime, claimed_by: str) -> bool:
    """queued → sending, one more attempt, by the worker process `claimed_by`, in one conditional
    UPDATE: of two workers holding the same id, one wins (True)."""
    if native():
        params = {"sending": Message.Status.SENDING, "now": now, "id": _message_pk(message_id),
                  "queued": Message.Status.QUEUED, "claimed_by": claimed_by}  # fmt: skip
        _, count = _run(_MESSAGE_CLAIM, params)
        return count == 1
    claimed = Message.objects.filter(pk=message_id, status=Message.Status.QUEUED).update(
        status=Message.Status.SENDING, sending_started_at=now, attempts=F("attempts") + 1, claimed_by=claimed_by
    )
    return claimed == 1


# The hand-over's event is written by the same statement: the status history costs the hot path
# no extra round trip.
_MESSAGE_RECORD_SENT = """
WITH moved AS (
    UPDATE {message} SET status = %(status)s, provider_id = %(provider_id)s, sent_at = %(now)s,
        error_code = '', delivered_at = CASE WHEN %(delivered)s THEN %(now)s ELSE delivered_at END
    WHERE id = %(id)s AND status = %(sending)s
    RETURNING id
)
INSERT INTO {event} (message_id, status, detail, created_at)
SELECT id, %(status)s, %(detail)s, %(now)s FROM moved
"""


def message_record_sent(*, message_id, status: str, provider_id: str, detail: str, now: datetime) -> bool:
    """sending → `status` (sent or delivered) with the gateway's id, its error code cleared, and
    the event (`status`, `detail`) in its history; True if it moved (False: no longer sending)."""
    delivered = status == Message.Status.DELIVERED
    if native():
        params = {"status": status, "provider_id": provider_id, "now": now, "delivered": delivered,
                  "id": _message_pk(message_id), "sending": Message.Status.SENDING, "detail": detail}  # fmt: skip
        _, count = _run(_MESSAGE_RECORD_SENT, params)
        return count == 1
    changes = {"status": status, "provider_id": provider_id, "sent_at": now, "error_code": ""}
    if delivered:
        changes["delivered_at"] = now
    moved = Message.objects.filter(pk=message_id, status=Message.Status.SENDING).update(**changes) == 1
    if moved:
        MessageEvent.objects.create(message_id=message_id, status=status, detail=detail, created_at=now)
    return moved


# One statement instead of three ORM queries, since every message brings two reports: it locks
# the row, moves the status forward if it may, redacts a security code and writes the event.
_MESSAGE_REPORT_PROGRESS = """
WITH old AS (
    SELECT id, status AS actual, error_code, possible_duplicate, account_id, is_system,
           CASE WHEN status = %(queued)s AND possible_duplicate THEN %(sending)s ELSE status END AS status
    FROM {message} WHERE id = %(id)s FOR UPDATE
), moved AS (
    UPDATE {message} AS m SET
        text = CASE WHEN m.sensitive THEN %(redacted)s ELSE m.text END,
        status = CASE WHEN old.status = ANY(%(from)s) THEN %(to)s ELSE m.status END,
        sent_at = CASE WHEN old.status = ANY(%(from)s) THEN COALESCE(m.sent_at, %(now)s) ELSE m.sent_at END,
        delivered_at = CASE WHEN old.status = ANY(%(from)s) AND %(delivers)s THEN %(now)s ELSE m.delivered_at END
    FROM old
    WHERE m.id = old.id AND (old.status = ANY(%(from)s) OR (m.sensitive AND m.text <> %(redacted)s))
    RETURNING m.id
), event AS (
    INSERT INTO {event} (message_id, status, detail, created_at)
    SELECT id, %(to)s, %(detail)s, %(now)s FROM old WHERE old.status = ANY(%(event_from)s)
    RETURNING id
)
SELECT status, actual, error_code, possible_duplicate, account_id, is_system FROM old
"""


def message_report_progress(
    *,
    message_id,
    to: str,
    detail: str,
    moves_from: list[str],
    event_from: list[str],
    redacted: str,
    now: datetime,
) -> tuple[str, str, str, bool, int | None, bool] | None:
    """Apply a report of progress to a message under its row lock. Its status (one requeued in
    doubt, `queued` with possible_duplicate, counts as `sending`) moves to `to` if it is one of
    `moves_from` (sent_at set if it was not, delivered_at when `to` is delivered); the event
    (`to`, `detail`) is written if it is one of `event_from`; a security code's text becomes
    `redacted` in any case. Returns (that status, the actual status, error code, possible
    duplicate, account id, is system) as they were before, or None when there is no such message
    (the last two say whom a move is published for, without a query of its own)."""
    if native():
        params = {"id": _message_pk(message_id), "queued": Message.Status.QUEUED, "sending": Message.Status.SENDING,
                  "redacted": redacted, "from": [str(s) for s in moves_from], "to": str(to), "now": now,
                  "delivers": to == Message.Status.DELIVERED, "detail": detail,
                  "event_from": [str(s) for s in event_from]}  # fmt: skip
        row, _ = _run(_MESSAGE_REPORT_PROGRESS, params)
        return row
    with transaction.atomic():
        row = (
            Message.objects.select_for_update()
            .filter(pk=message_id)
            .values_list("status", "error_code", "possible_duplicate", "sensitive", "text", "account_id", "is_system")
            .first()
        )
        if row is None:
            return None
        actual, error_code, possible_duplicate, sensitive, text, account_id, is_system = row
        requeued_in_doubt = actual == Message.Status.QUEUED and possible_duplicate
        status = Message.Status.SENDING if requeued_in_doubt else actual
        changes = {}
        if sensitive and text != redacted:
            changes["text"] = redacted
        if status in moves_from:
            changes.update(status=to, sent_at=Coalesce("sent_at", Value(now)))
            if to == Message.Status.DELIVERED:
                changes["delivered_at"] = now
        if changes:
            Message.objects.filter(pk=message_id).update(**changes)
        if status in event_from:
            MessageEvent.objects.create(message_id=message_id, status=to, detail=detail, created_at=now)
    return str(status), actual, error_code, possible_duplicate, account_id, is_system
