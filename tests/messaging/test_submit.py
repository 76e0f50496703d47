import threading
from datetime import time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import notices
from accounts.models import Account, Membership, User
from audit import hub
from audit.models import AuditEvent
from audit.services import SECURITY_ALERT
from core.errors import ApplicationError
from messaging import sql
from messaging.models import BlockedDomain, IdempotencyRecord, LedgerEntry, Message, PriceRule, SenderName
from messaging.services import ledger_topup, screening
from messaging.services import submit as submit_module
from messaging.services.submit import message_submit, sending_window_opening
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True, params=["postgresql", "orm"])
def charge_path(request, monkeypatch):
    """Every test here runs on both ways of storing and charging a request (messaging/sql.py):
    PostgreSQL's statements, and the ORM's that SQLite takes under `make run`."""
    if request.param == "orm":
        monkeypatch.setattr(sql, "native", lambda: False)
    return request.param


pytestmark = pytest.mark.django_db


def ledger_sum(account_id):
    return LedgerEntry.objects.filter(account_id=account_id).aggregate(s=Sum("amount"))["s"] or Decimal(0)


def submit(owner, **kwargs):
    kwargs.setdefault("to", ["+447400100001"])
    kwargs.setdefault("text", "Hello")
    return message_submit(account_id=owner.membership.account_id, user=owner, caller=f"user:{owner.pk}", **kwargs)


def subuser(owner, **fields) -> User:
    user = User.objects.create_user(f"sub{User.objects.count()}@example.com", PASSWORD)
    Membership.objects.create(user=user, account=owner.membership.account, role=Membership.Role.SUBUSER, **fields)
    return User.objects.select_related("membership__account").get(pk=user.pk)


def test_submit_debits_once_and_queues_each_recipient(owner, django_capture_on_commit_callbacks):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    PriceRule.objects.create(country="PL", price_per_segment=Decimal("0.5"))
    with django_capture_on_commit_callbacks() as callbacks:
        result = submit(owner, to=["+447400100001", "+48500100200", "447400100001", "+447400100002"], text="a" * 161)
    assert len(result.messages) == 3  # duplicates collapsed, "447400100001" read as international
    assert {m.recipient for m in result.messages} == {"+447400100001", "+447400100002", "+48500100200"}
    assert all(m.segments == 2 and m.encoding == "GSM-7" for m in result.messages)
    assert result.total_cost == Decimal("5")  # 2 + 2 + 2 * 0.5
    assert result.balance == Decimal("95")
    assert len(callbacks) == 1  # one delivery task for the batch, after the commit
    assert LedgerEntry.objects.filter(account_id=owner.membership.account_id, kind="debit").count() == 1
    assert ledger_sum(owner.membership.account_id) == Account.objects.get(pk=owner.membership.account_id).balance
    assert Message.objects.filter(batch_id=result.batch_id, status="queued").count() == 3


@pytest.mark.parametrize(
    ("kwargs", "code", "status"),
    [
        ({"to": []}, "invalid_request", 400),
        ({"to": ["+447400100001", "12", "hello"]}, "invalid_recipients", 400),
        ({"text": "   "}, "invalid_request", 400),
        ({"text": "a" * 1531}, "text_too_long", 400),
        ({"sender": "NotApproved"}, "sender_not_allowed", 403),
        ({"sender": "way-too-long-sender"}, "invalid_request", 400),
        ({"scheduled_at": "past"}, "invalid_request", 400),
        ({"scheduled_at": "far"}, "invalid_request", 400),
        ({"to": ["+447400100001"] * 10_001}, "too_many_recipients", 413),
    ],
)
def test_invalid_requests_are_refused_and_write_nothing(owner, kwargs, code, status):
    if kwargs.get("scheduled_at") == "past":
        kwargs["scheduled_at"] = timezone.now() - timezone.timedelta(minutes=1)
    elif kwargs.get("scheduled_at") == "far":
        kwargs["scheduled_at"] = timezone.now() + timezone.timedelta(days=31)
    with pytest.raises(ApplicationError) as excinfo:
        submit(owner, **kwargs)
    assert (excinfo.value.code, excinfo.value.status) == (code, status)
    assert not Message.objects.exists()
    assert Account.objects.get(pk=owner.membership.account_id).balance == 100


def test_invalid_numbers_are_named(owner):
    with pytest.raises(ApplicationError) as excinfo:
        submit(owner, to=["+447400100001", "+1555", "nonsense"])
    assert "+1555" in excinfo.value.detail
    assert "nonsense" in excinfo.value.detail


def test_insufficient_credit_is_402(make_account):
    owner = make_account(credit=1).memberships.get().user
    with pytest.raises(ApplicationError) as excinfo:
        submit(owner, to=["+447400100001", "+447400100002"])
    assert excinfo.value.status == 402
    assert not Message.objects.exists()


def test_suspended_account_cannot_send(owner):
    Account.objects.filter(pk=owner.membership.account_id).update(status="suspended")
    with pytest.raises(ApplicationError) as excinfo:
        submit(owner)
    assert excinfo.value.code == "account_suspended"


def test_approved_sender_and_subuser_sender_restrictions(owner):
    account = owner.membership.account
    acme = SenderName.objects.create(account=account, name="ACME", status="approved")
    SenderName.objects.create(account=account, name="OTHER", status="approved")
    SenderName.objects.create(account=account, name="WAITING", status="pending")
    assert submit(owner, sender="ACME").messages[0].sender == "ACME"
    with pytest.raises(ApplicationError):
        submit(owner, sender="WAITING")
    sub = subuser(owner)
    sub.membership.allowed_senders.add(acme)
    assert submit(sub, sender="ACME").messages[0].sender == "ACME"
    assert submit(sub).messages[0].sender == "ACME"  # the default is one it may use
    with pytest.raises(ApplicationError) as excinfo:
        submit(sub, sender="OTHER")
    assert excinfo.value.code == "sender_not_allowed"


def test_subuser_monthly_limit(owner):
    sub = subuser(owner, monthly_limit=Decimal("2"))
    submit(sub, to=["+447400100001", "+447400100002"])
    with pytest.raises(ApplicationError) as excinfo:
        submit(sub)
    assert excinfo.value.code == "monthly_limit_reached"
    assert excinfo.value.status == 402
    # A new month starts from zero.
    with time_machine.travel(timezone.now() + timezone.timedelta(days=32)):
        submit(sub)


def test_subuser_without_send_permission_is_refused(owner):
    sub = subuser(owner, send_sms=False)
    with pytest.raises(ApplicationError) as excinfo:
        submit(sub)
    assert excinfo.value.status == 403


def test_scheduled_messages_wait(owner, django_capture_on_commit_callbacks):
    when = timezone.now() + timezone.timedelta(hours=2)
    with django_capture_on_commit_callbacks() as callbacks:
        result = submit(owner, scheduled_at=when)
    assert result.messages[0].status == "scheduled"
    assert result.messages[0].scheduled_at == when
    assert callbacks == []  # nothing enqueued: beat releases it when due


def test_sending_window_schedules_for_the_next_opening(owner):
    sub = subuser(owner, window_weekdays=[1, 2, 3, 4, 5], window_start=time(9), window_end=time(17))
    # Saturday 2026-11-21 12:00 UTC: outside → Monday 09:00 UTC.
    with time_machine.travel("2026-11-21T12:00:00Z", tick=False):
        result = submit(sub)
    assert result.messages[0].status == "scheduled"
    assert result.messages[0].scheduled_at.isoformat() == "2026-11-23T09:00:00+00:00"
    with time_machine.travel("2026-11-23T10:00:00Z", tick=False):
        assert submit(sub).messages[0].status == "queued"


def test_sending_window_in_another_time_zone():
    membership = Membership(
        role="subuser", window_weekdays=[], window_start=time(9), window_end=time(17), window_timezone="Europe/Warsaw"
    )
    at = timezone.datetime.fromisoformat("2026-11-23T07:30:00+00:00")  # 08:30 in Warsaw
    assert sending_window_opening(membership, at).isoformat() == "2026-11-23T08:00:00+00:00"
    assert sending_window_opening(membership, at + timezone.timedelta(hours=1)) is None


def test_links_to_blocked_domains_are_held_and_charged_once(owner, django_capture_on_commit_callbacks):
    BlockedDomain.objects.get_or_create(domain="bit.ly")
    with django_capture_on_commit_callbacks() as callbacks:
        result = submit(owner, text="Your parcel: https://BIT.ly/x1?y=2 track now")
    assert result.messages[0].status == "held"
    assert callbacks == []
    assert result.balance == 99
    assert AuditEvent.objects.filter(action="messages.held").exists()
    assert submit(owner, text="See https://example.com/bit.ly").messages[0].status == "queued"
    assert submit(owner, text="Go to www.sub.bit.ly now").messages[0].status == "held"


@pytest.mark.parametrize(
    "text",
    [
        "Pay now:bit.ly/abc",
        "Pay->https://bit.ly/abc",
        "url=https://bit.ly/abc",
        "Pay,bit.ly/abc",
        "Now...bit.ly/abc",
        "(bit.ly/abc)",
        "mail me:x@bit.ly",
        "Pay-now.bit.ly",
        "HTTPS://WWW.Bit.Ly/abc",
    ],
)
def test_a_blocked_link_glued_to_punctuation_is_held(owner, text):
    BlockedDomain.objects.get_or_create(domain="bit.ly")
    cache.delete("messaging:blocked-domains")
    assert submit(owner, text=text).messages[0].status == "held", text


@pytest.mark.parametrize(
    "text",
    [
        "See notbit.ly/abc",
        "See bit.lyx/abc",
        "See my-bit.ly/abc",
        "bit ly",
        "Pay 1.50 now",
        "See https://example.com/bit.ly",
    ],
)
def test_screening_holds_only_links_to_blocked_domains(owner, text):
    BlockedDomain.objects.get_or_create(domain="bit.ly")
    cache.delete("messaging:blocked-domains")
    assert submit(owner, text=text).messages[0].status == "queued", text


def test_screening_finds_hosts_wherever_they_start_and_skips_the_paths_of_links():
    """One left-to-right pass: a long run of labels is one host, a host glued to punctuation is
    found, and what stands in a link's path or query (where it leads nowhere) is not a host."""
    text = "a." * 700 + "bit.ly"
    assert list(screening.link_hosts(text)) == [text]
    assert list(screening.link_hosts("x:bit.ly/y>z.Example.com")) == ["bit.ly", "z.example.com"]
    assert list(screening.link_hosts("https://example.com/bit.ly?u=t.co")) == ["example.com"]


def test_a_refused_request_does_not_use_up_the_hours_traffic_alert(
    make_account, request, django_capture_on_commit_callbacks
):
    """The once-an-hour mark of the alert (in Redis, outside the transaction) is taken only once
    the crossing commits: a request refused after crossing (no credit) leaves the hour's alert to
    the request that really crosses."""
    account = make_account(credit=1)
    owner = account.memberships.get().user
    Account.objects.filter(pk=account.pk).update(traffic_alert_per_hour=2)
    alerts: list[bool] = []

    def recording_alert(event):
        alerts.append(notices.owner_alert(event))

    hub.unsubscribe(notices.owner_alert)
    hub.subscribe(recording_alert, actions={SECURITY_ALERT})
    request.addfinalizer(lambda: (hub.unsubscribe(recording_alert), notices.subscribe()))
    to = ["+447400100001", "+447400100002", "+447400100003"]
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ApplicationError) as refused:
        submit(owner, to=to)
    assert refused.value.code == "insufficient_credit"
    assert alerts == []
    assert not AuditEvent.objects.filter(action="traffic.alert").exists()
    ledger_topup(account_id=account.pk, points=Decimal("10"))
    with django_capture_on_commit_callbacks(execute=True):
        submit(owner, to=to)  # 3 messages this hour, over the threshold of 2
    assert alerts == [True], "the hour's alert was used up by the refused request"
    assert AuditEvent.objects.filter(action="traffic.alert").count() == 1


@pytest.mark.parametrize("line_break", ["\r\n", "\r", "\n"])
def test_a_line_break_is_one_character_however_it_is_written(owner, line_break):
    text = "a" * 80 + line_break + "a" * 79  # 160 characters with the line break as one
    [message] = submit(owner, text=text).messages
    assert (message.text, message.segments, message.cost) == ("a" * 80 + "\n" + "a" * 79, 1, Decimal("1"))


def test_hard_cap_refuses_and_alert_threshold_alerts_once(owner, mailoutbox):
    Account.objects.filter(pk=owner.membership.account_id).update(traffic_alert_per_hour=2, traffic_cap_per_hour=4)
    submit(owner, to=["+447400100001", "+447400100002"])
    assert mailoutbox == []
    submit(owner, to=["+447400100003"])
    submit(owner, to=["+447400100004"])
    assert AuditEvent.objects.filter(action="traffic.alert").count() == 1
    with pytest.raises(ApplicationError) as excinfo:
        submit(owner, to=["+447400100005"])
    assert excinfo.value.code == "traffic_cap_reached"
    assert excinfo.value.status == 429
    assert int(excinfo.value.headers["Retry-After"]) > 0


def test_idempotency_key_replays_and_conflicts(owner):
    first = submit(owner, idempotency_key="abc", response_builder=lambda r: {"batch_id": str(r.batch_id), "n": 1})
    again = submit(owner, idempotency_key="abc", response_builder=lambda r: {})
    assert again.replayed
    assert again.stored_response == {"batch_id": str(first.batch_id), "n": 1}
    assert Message.objects.count() == 1
    with pytest.raises(ApplicationError) as excinfo:
        submit(owner, idempotency_key="abc", text="Different")
    assert excinfo.value.status == 409
    # Another caller may use the same key.
    other = subuser(owner)
    assert not submit(other, idempotency_key="abc").replayed
    assert IdempotencyRecord.objects.count() == 2


def run_concurrently(n, work):
    barrier = threading.Barrier(n)
    outcomes = []
    lock = threading.Lock()

    def runner(i):
        try:
            barrier.wait()
            try:
                work(i)
                outcome = "ok"
            except ApplicationError as exc:
                outcome = exc.code
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_submits_against_a_balance_of_twenty(make_account):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    owner = make_account(credit=20).memberships.get().user
    outcomes = run_concurrently(50, lambda i: submit(owner, to=[f"+4474001{i:05d}"]))
    assert outcomes.count("ok") == 20
    assert outcomes.count("insufficient_credit") == 30
    account = Account.objects.get(pk=owner.membership.account_id)
    assert account.balance == 0
    assert ledger_sum(account.pk) == account.balance
    assert Message.objects.filter(account=account).count() == 20


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_submits_against_a_monthly_limit_of_twenty(make_account):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    owner = make_account(credit=1000).memberships.get().user
    sub = subuser(owner, monthly_limit=Decimal("20"))
    outcomes = run_concurrently(50, lambda i: submit(sub, to=[f"+4474001{i:05d}"]))
    assert outcomes.count("ok") == 20
    assert outcomes.count("monthly_limit_reached") == 30
    assert Membership.objects.get(pk=sub.membership.pk).monthly_spent == 20
    account = Account.objects.get(pk=owner.membership.account_id)
    assert account.balance == 980 == ledger_sum(account.pk)


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_idempotency_key_send_once(make_account):
    owner = make_account(credit=100).memberships.get().user
    outcomes = run_concurrently(
        8, lambda i: submit(owner, idempotency_key="same", response_builder=lambda r: {"batch_id": str(r.batch_id)})
    )
    assert outcomes == ["ok"] * 8
    assert Message.objects.count() == 1
    assert Account.objects.get(pk=owner.membership.account_id).balance == 99


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_idempotency_key_all_get_the_first_answer(make_account):
    """With credit for one send only, the repeats of a request must not be refused for credit
    (or any limit) while the first commits: they wait for it and answer as it did."""
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    owner = make_account(credit=1).memberships.get().user
    outcomes = run_concurrently(
        8, lambda i: submit(owner, idempotency_key="once", response_builder=lambda r: {"batch_id": str(r.batch_id)})
    )
    assert outcomes == ["ok"] * 8
    assert Message.objects.count() == 1
    account = Account.objects.get(pk=owner.membership.account_id)
    assert account.balance == 0 == ledger_sum(account.pk)


def test_a_large_request_the_account_cannot_pay_writes_nothing(owner, charge_path):
    """Refused before its messages are written (not written and rolled back): a client retrying
    big sends on an empty account costs the database no writes."""
    Account.objects.filter(pk=owner.membership.account_id).update(balance=Decimal("3"))
    numbers = [f"+4474001{i:05d}" for i in range(100)]
    with CaptureQueriesContext(connection) as captured, pytest.raises(ApplicationError) as refused:
        submit(owner, to=numbers)
    assert refused.value.code == "insufficient_credit"
    assert not [q for q in captured.captured_queries if q["sql"].startswith("INSERT")]

    Account.objects.filter(pk=owner.membership.account_id).update(balance=Decimal("1000"), traffic_cap_per_hour=50)
    with CaptureQueriesContext(connection) as captured, pytest.raises(ApplicationError) as refused:
        submit(owner, to=numbers)
    assert refused.value.code == "traffic_cap_reached"
    assert not [q for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert not Message.objects.exists()


def test_messages_built_for_insert_equal_the_models_own(owner):
    """new_message (positional, for speed) builds what Message(**values) builds: every column,
    the model's defaults included, and an unknown column is an error."""
    from django.forms.models import model_to_dict

    values = {
        "account_id": owner.membership.account_id,
        "submitted_by_id": owner.pk,
        "sender": "ACME",
        "recipient": "+447400123456",
        "text": "Hi",
        "encoding": "GSM-7",
        "segments": 1,
        "cost": Decimal("0.5"),
        "status": Message.Status.QUEUED,
        "created_at": timezone.now(),
        "is_test": True,
    }
    # Without an id: the model's callable default is called for each message.
    first, second = submit_module.new_message(**values), submit_module.new_message(**values)
    assert first.id != second.id
    assert first.id.version == 7
    values["id"] = first.id
    fast = submit_module.new_message(**values)
    slow = Message(**values)
    columns = [field.attname for field in Message._meta.concrete_fields]
    assert [getattr(fast, name) for name in columns] == [getattr(slow, name) for name in columns]
    assert model_to_dict(fast) == model_to_dict(slow)
    assert fast._state.adding
    with pytest.raises(TypeError, match="not_a_column"):
        submit_module.new_message(**values, not_a_column=1)


def test_a_live_send_runs_its_statements_prepared(owner):
    """The statements of a send repeat, so psycopg prepares them on the server after a few sends
    on a connection (portal/settings.py): the SQL of messaging/sql.py and the ORM's alike."""
    Account.objects.filter(pk=owner.membership.account_id).update(balance=Decimal("10"))
    for _ in range(connection.settings_dict["OPTIONS"]["prepare_threshold"] + 1):
        message_submit(account_id=owner.membership.account_id, user=owner, caller="t", to=["+447400123456"], text="Hi")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = " ".join(row[0] for row in cursor.fetchall())
    for table in ("messaging_message", "messaging_trafficcounter", "accounts_account", "accounts_membership"):
        assert f'"{table}"' in statements, (table, statements)


def _built(owner, count: int, now=None, **overrides) -> list[Message]:
    now = now or timezone.now()
    return [
        submit_module.new_message(
            account_id=owner.membership.account_id,
            submitted_by_id=owner.pk if i % 2 else None,
            sender="ACME",
            recipient=f"+4474001{i:05d}",
            text="Hi ☃" if i % 3 else "Hi",
            encoding="UCS-2" if i % 3 else "GSM-7",
            segments=1 + i % 2,
            cost=Decimal("0.1234") * i,
            status=Message.Status.SCHEDULED if i % 4 else Message.Status.QUEUED,
            scheduled_at=now + timedelta(hours=i) if i % 4 else None,
            created_at=now,
            is_test=bool(i % 5),
            **overrides,
        )
        for i in range(count)
    ]


def test_the_unnest_insert_refuses_a_value_too_long_rather_than_cutting_it(owner):
    from django.db import DataError, transaction

    messages = _built(owner, 3)
    messages[1].sender = "X" * 17  # the column is varchar(16)
    with pytest.raises(DataError), transaction.atomic():
        sql.messages_insert(messages)
    assert not Message.objects.filter(pk__in=[m.pk for m in messages]).exists()


def test_references_give_recipients_their_own_and_are_checked_like_the_reference(owner):
    result = submit(
        owner,
        to=["+447400100001", "+447400100002", "+447400100003"],
        reference="all",
        references={"+447400100002": "b"},
    )
    stored = dict(Message.objects.filter(batch_id=result.batch_id).values_list("recipient", "reference"))
    assert stored == {"+447400100001": "all", "+447400100002": "b", "+447400100003": "all"}
    for bad in ("x" * 101, "nul\x00"):
        with pytest.raises(ApplicationError):
            submit(owner, to=["+447400100001"], references={"+447400100001": bad})
    assert Message.objects.count() == 3
