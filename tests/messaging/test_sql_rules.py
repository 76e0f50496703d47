"""Each rule of messaging/sql.py both ways, against the same expectations: PostgreSQL's statement
and the ORM's steps that SQLite takes under `make run`. On PostgreSQL both run; `make test` runs
this module a second time on SQLite (tests/settings_sqlite.py), where only the ORM's can."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Membership, User
from core.ids import uuid7
from messaging import sql
from messaging.models import LedgerEntry, Message, MessageEvent, TrafficCounter
from tests.conftest import PASSWORD

ON_POSTGRESQL = connection.vendor == "postgresql"

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session", autouse=True)
def _real_stack():
    """The suite's own fixture refuses any database but PostgreSQL (tests/conftest.py); this
    module runs on SQLite too."""


@pytest.fixture(params=["sql", "orm"] if ON_POSTGRESQL else ["orm"])
def path(request, monkeypatch):
    """The rule's SQL (PostgreSQL only), or its ORM expression (any database)."""
    monkeypatch.setattr(sql, "native", lambda: request.param == "sql")
    return request.param


NOW = datetime(2026, 5, 14, 9, 30, 15, 123456, tzinfo=UTC)
HANDED_OVER = "handed to the gateway"
REDACTED = "[redacted]"


def message(owner, **fields) -> Message:
    values = {
        "account_id": owner.membership.account_id,
        "submitted_by": owner,
        "sender": "ACME",
        "recipient": "+447400123456",
        "text": "Hello",
        "cost": Decimal("0.0421"),
        "status": Message.Status.QUEUED,
        **fields,
    }
    return Message.objects.create(**values)


def history(message_id) -> list[tuple[str, str, datetime]]:
    return list(MessageEvent.objects.filter(message_id=message_id).values_list("status", "detail", "created_at"))


def debits() -> list[tuple]:
    return list(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DEBIT).values_list(
            "account_id", "amount", "balance_after", "note", "batch_id", "created_by_id", "created_at"
        )
    )


def balance_of(account_id: int) -> Decimal:
    return Account.objects.values_list("balance", flat=True).get(pk=account_id)


# --- A send -----------------------------------------------------------------------------------


def test_a_debit_takes_the_amount_exactly_and_writes_its_ledger_entry(path, owner):
    account_id = owner.membership.account_id  # 100 points
    batch_id = uuid7()
    Account.objects.filter(pk=account_id).update(low_balance_threshold=Decimal("97.5"))
    debit = sql.account_debit(
        account_id=account_id, total=Decimal("2.5001"), note="3 messages", batch_id=batch_id, user_id=owner.pk, now=NOW
    )
    # With the account's low-balance threshold and flag, read under the same lock.
    assert debit == (Decimal("97.4999"), Decimal("97.5"), False)
    assert debit.balance == balance_of(account_id)
    assert debits() == [(account_id, Decimal("-2.5001"), Decimal("97.4999"), "3 messages", batch_id, owner.pk, NOW)]
    for _ in range(3):  # no drift, however many
        debit = sql.account_debit(
            account_id=account_id, total=Decimal("0.0001"), note="1 message", batch_id=None, user_id=None, now=NOW
        )
    assert debit.balance == Decimal("97.4996") == balance_of(account_id)


def test_a_debit_is_refused_whole_without_the_credit_or_when_the_account_is_suspended(path, owner):
    account_id = owner.membership.account_id

    def debit(total: str) -> Decimal | None:
        debited = sql.account_debit(
            account_id=account_id, total=Decimal(total), note="n", batch_id=None, user_id=None, now=NOW
        )
        return None if debited is None else debited.balance

    assert debit("100.0001") is None
    assert balance_of(account_id) == Decimal("100")
    assert debits() == []
    assert debit("100") == Decimal("0")  # all of it, to the last point
    Account.objects.filter(pk=account_id).update(balance=Decimal("10"), status=Account.Status.SUSPENDED)
    assert debit("1") is None
    assert balance_of(account_id) == Decimal("10")
    assert len(debits()) == 1


def test_traffic_is_counted_per_account_and_hour(path, owner, make_account):
    account_id, other_id = owner.membership.account_id, make_account().pk
    hour = NOW.replace(minute=0, second=0, microsecond=0)
    assert sql.traffic_add(account_id=account_id, hour=hour, count=3) == (3, False)
    assert sql.traffic_add(account_id=account_id, hour=hour, count=2) == (5, False)
    assert sql.traffic_add(account_id=account_id, hour=hour + timedelta(hours=1), count=1) == (1, False)
    assert sql.traffic_add(account_id=other_id, hour=hour, count=4) == (4, False)
    TrafficCounter.objects.filter(account_id=account_id, hour=hour).update(alerted=True)
    assert sql.traffic_add(account_id=account_id, hour=hour, count=1) == (6, True)
    assert sorted(TrafficCounter.objects.values_list("account_id", "hour", "count")) == sorted(
        [(account_id, hour, 6), (account_id, hour + timedelta(hours=1), 1), (other_id, hour, 4)]
    )


def test_the_monthly_spend_adds_up_within_a_month_and_starts_again_in_the_next(path, owner):
    user = User.objects.create_user("member@example.com", PASSWORD)
    member = Membership.objects.create(
        user=user, account_id=owner.membership.account_id, role=Membership.Role.SUBUSER, monthly_limit=Decimal("50")
    )
    may, june = date(2026, 5, 1), date(2026, 6, 1)

    def spend(month: date, total: str):
        return sql.membership_spend(membership_id=member.pk, month=month, total=Decimal(total))

    assert spend(may, "1.2501") == (Decimal("1.2501"), Decimal("50"), Membership.Role.SUBUSER)
    assert spend(may, "2.5") == (Decimal("3.7501"), Decimal("50"), Membership.Role.SUBUSER)
    assert spend(june, "1") == (Decimal("1"), Decimal("50"), Membership.Role.SUBUSER)
    assert spend(june, "0") == (Decimal("1"), Decimal("50"), Membership.Role.SUBUSER)
    member.refresh_from_db()
    assert (member.monthly_spent, member.spent_month) == (Decimal("1"), june)
    assert sql.membership_spend(membership_id=owner.membership.pk, month=may, total=Decimal("7")) == (
        Decimal("7"),
        None,
        Membership.Role.OWNER,
    )


@pytest.mark.parametrize("count", [1, 5])
def test_messages_are_stored_as_the_models_hold_them(path, owner, monkeypatch, count):
    """One message is one INSERT on PostgreSQL, more are INSERTs from arrays (here two per
    statement); every column comes back as it went in."""
    monkeypatch.setattr(sql, "UNNEST_BATCH", 2)
    now = timezone.now()

    def built(i: int) -> Message:
        odd = bool(i % 2)
        return Message(
            id=uuid7(),
            account_id=owner.membership.account_id,
            submitted_by_id=owner.pk if odd else None,
            sender="ACME",
            recipient=f"+4474001{i:05d}",
            text="Zażółć € ☃" if odd else "Hi",
            encoding=Message.Encoding.UCS2 if odd else Message.Encoding.GSM7,
            segments=1 + i,
            cost=Decimal("0.1234") * i,
            status=Message.Status.SCHEDULED if odd else Message.Status.QUEUED,
            scheduled_at=now + timedelta(hours=i) if odd else None,
            batch_id=uuid7(),
            created_at=now,
            reference=f"r{i}",
            is_test=odd,
        )

    messages = [built(i) for i in range(count)]
    sql.messages_insert(messages)
    assert all(not m._state.adding for m in messages)
    stored = {m.pk: m for m in Message.objects.all()}
    assert set(stored) == {m.pk for m in messages}
    for original in messages:
        for field in Message._meta.concrete_fields:
            assert getattr(stored[original.pk], field.attname) == getattr(original, field.attname), field.name


# --- Delivery ---------------------------------------------------------------------------------


def test_a_queued_message_is_claimed_once(path, owner):
    queued, scheduled = message(owner), message(owner, status=Message.Status.SCHEDULED)
    tag = "b00t 42 celery@host"
    assert sql.message_claim(message_id=str(queued.pk), now=NOW, claimed_by=tag) is True  # ids as text
    assert sql.message_claim(message_id=queued.pk, now=NOW, claimed_by="other") is False
    assert sql.message_claim(message_id=scheduled.pk, now=NOW, claimed_by=tag) is False
    queued.refresh_from_db()
    assert (queued.status, queued.sending_started_at, queued.attempts) == (Message.Status.SENDING, NOW, 1)
    assert queued.claimed_by == tag
    assert Message.objects.get(pk=scheduled.pk).status == Message.Status.SCHEDULED


@pytest.mark.parametrize("status", [Message.Status.SENT, Message.Status.DELIVERED])
def test_a_hand_over_is_recorded_once_with_its_event(path, owner, status):
    sending = message(owner, status=Message.Status.SENDING, error_code="gateway_http_503")
    record = {"message_id": str(sending.pk), "status": status, "provider_id": "p-1", "detail": HANDED_OVER, "now": NOW}
    assert sql.message_record_sent(**record) is True
    assert sql.message_record_sent(**{**record, "provider_id": "p-2"}) is False  # no longer sending
    sending.refresh_from_db()
    assert (sending.status, sending.provider_id, sending.sent_at, sending.error_code) == (status, "p-1", NOW, "")
    assert sending.delivered_at == (NOW if status == Message.Status.DELIVERED else None)
    assert history(sending.pk) == [(status, HANDED_OVER, NOW)]


EARLIER = NOW - timedelta(minutes=3)
IN_FLIGHT = [Message.Status.SENDING, Message.Status.SENT]
DELIVERED = {"to": Message.Status.DELIVERED, "detail": "delivery report", "moves_from": IN_FLIGHT,
             "event_from": IN_FLIGHT}  # fmt: skip
ACCEPTED = {"to": Message.Status.SENT, "detail": "accepted by the SMSC", "moves_from": [Message.Status.SENDING],
            "event_from": [Message.Status.SENDING]}  # fmt: skip
BUFFERED = {**ACCEPTED, "detail": "buffered by the SMSC", "event_from": IN_FLIGHT}


@pytest.mark.parametrize(
    ("before", "report", "answer", "after", "event"),
    [
        pytest.param(
            {"status": "sent", "sent_at": EARLIER}, DELIVERED, ("sent", "sent", "", False),
            {"status": "delivered", "sent_at": EARLIER, "delivered_at": NOW}, True, id="delivered-after-sent",
        ),
        pytest.param(
            {"status": "sending"}, DELIVERED, ("sending", "sending", "", False),
            {"status": "delivered", "sent_at": NOW, "delivered_at": NOW}, True, id="delivered-while-sending",
        ),
        pytest.param(
            {"status": "queued", "possible_duplicate": True}, ACCEPTED, ("sending", "queued", "", True),
            {"status": "sent", "sent_at": NOW, "delivered_at": None}, True, id="accepted-requeued-in-doubt",
        ),
        pytest.param(
            {"status": "queued"}, ACCEPTED, ("queued", "queued", "", False),
            {"status": "queued", "sent_at": None, "delivered_at": None}, False, id="accepted-while-queued",
        ),
        pytest.param(
            {"status": "sent", "sent_at": EARLIER}, ACCEPTED, ("sent", "sent", "", False),
            {"status": "sent", "sent_at": EARLIER, "delivered_at": None}, False, id="accepted-again",
        ),
        pytest.param(
            {"status": "sent", "sent_at": EARLIER}, BUFFERED, ("sent", "sent", "", False),
            {"status": "sent", "sent_at": EARLIER, "delivered_at": None}, True, id="buffered-after-sent",
        ),
        pytest.param(
            {"status": "delivered", "sent_at": EARLIER, "delivered_at": EARLIER}, ACCEPTED,
            ("delivered", "delivered", "", False),
            {"status": "delivered", "sent_at": EARLIER, "delivered_at": EARLIER}, False, id="late-accepted",
        ),
        pytest.param(
            {"status": "failed", "error_code": "handover_unknown"}, DELIVERED,
            ("failed", "failed", "handover_unknown", False),
            {"status": "failed", "sent_at": None, "delivered_at": None}, False, id="delivered-after-give-up",
        ),
    ],
)  # fmt: skip
@pytest.mark.parametrize("sensitive", [False, True], ids=["plain", "security-code"])
def test_a_progress_report_moves_a_message_forward_only(path, owner, sensitive, before, report, answer, after, event):
    reported = message(owner, sensitive=sensitive, text="Your code is 123456", **before)
    row = sql.message_report_progress(message_id=reported.pk, redacted=REDACTED, now=NOW, **report)
    assert row == (*answer, reported.account_id, False)  # whom a move is published for, too
    reported.refresh_from_db()
    assert {name: getattr(reported, name) for name in after} == after
    assert reported.text == (REDACTED if sensitive else "Your code is 123456")  # moved or not
    assert history(reported.pk) == ([(report["to"], report["detail"], NOW)] if event else [])


def test_a_report_for_no_such_message_changes_nothing(path, owner):
    assert sql.message_report_progress(message_id=uuid.uuid4(), redacted=REDACTED, now=NOW, **DELIVERED) is None
    assert not MessageEvent.objects.exists()


# --- The API's balance ------------------------------------------------------------------------


def test_a_members_balance_and_monthly_spend_are_read_within_the_account(path, owner, make_account):
    membership = owner.membership
    Membership.objects.filter(pk=membership.pk).update(monthly_spent=Decimal("2.5"), spent_month=date(2026, 5, 1))
    assert sql.member_balance(account_id=membership.account_id, membership_id=membership.pk) == (
        Decimal("100"),
        Membership.Role.OWNER,
        None,
        Decimal("2.5"),
        date(2026, 5, 1),
    )
    stranger = make_account().memberships.get()
    assert sql.member_balance(account_id=membership.account_id, membership_id=stranger.pk) is None


# --- PostgreSQL only --------------------------------------------------------------------------


@pytest.mark.skipif(not ON_POSTGRESQL, reason="the point of the statements: PostgreSQL")
def test_on_postgresql_each_rule_is_one_statement(owner, monkeypatch):
    monkeypatch.setattr(sql, "native", lambda: True)
    account_id = owner.membership.account_id
    queued = message(owner)
    sending = message(owner, status=Message.Status.SENDING)
    sent = message(owner, status=Message.Status.SENT)
    rules = [
        lambda: sql.traffic_add(account_id=account_id, hour=NOW, count=1),
        lambda: sql.account_debit(
            account_id=account_id, total=Decimal("1"), note="n", batch_id=None, user_id=None, now=NOW
        ),
        lambda: sql.membership_spend(membership_id=owner.membership.pk, month=date(2026, 5, 1), total=Decimal("1")),
        lambda: sql.member_balance(account_id=account_id, membership_id=owner.membership.pk),
        lambda: sql.message_claim(message_id=queued.pk, now=NOW, claimed_by="b00t 42 celery@host"),
        lambda: sql.message_record_sent(message_id=sending.pk, status="sent", provider_id="p", detail="d", now=NOW),
        lambda: sql.message_report_progress(message_id=sent.pk, redacted=REDACTED, now=NOW, **DELIVERED),
        lambda: sql.messages_insert([Message(account_id=account_id, sender="A", recipient="+447400123456", text="t")]),
    ]
    for rule in rules:
        with CaptureQueriesContext(connection) as captured:
            rule()
        assert len(captured) == 1, [query["sql"] for query in captured]


@pytest.mark.skipif(not ON_POSTGRESQL, reason="PostgreSQL's own lock; SQLite has none")
@pytest.mark.django_db(transaction=True)
def test_an_advisory_lock_is_held_until_the_transaction_ends():
    other = connections.create_connection("default")

    def free(key: int) -> bool:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
            return cursor.fetchone()[0]

    try:
        with transaction.atomic():
            sql.advisory_lock(key=-(2**63))
            assert not free(-(2**63))
            assert free(42)
        assert free(-(2**63))
    finally:
        other.close()
