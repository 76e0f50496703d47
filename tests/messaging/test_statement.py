"""A month's statement is the ledger's own rows of that UTC month added to the balance it opened
with, to the last decimal, also when sends, top-ups and refunds ran at once during the month and
across its last midnight (PostgreSQL, real threads, time-machine for the months)."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial

import pytest
import time_machine
from django.db.models import Sum
from django.test import Client

from accounts.models import Account
from core.text import points_amount
from messaging.models import LedgerEntry, Message, PriceRule
from messaging.selectors import month_bounds, statement
from messaging.services import ledger_adjust, ledger_topup, message_cancel, message_fail, message_submit
from tests.conftest import run_concurrently

MARCH = date(2026, 3, 1)


def ledger_total(account_id: int, **filters) -> Decimal:
    return LedgerEntry.objects.filter(account_id=account_id, **filters).aggregate(s=Sum("amount"))["s"] or Decimal(0)


@pytest.mark.django_db(transaction=True)
def test_a_months_statement_is_its_opening_balance_plus_the_months_ledger_rows_under_concurrent_sends(make_account):
    with time_machine.travel(datetime(2026, 2, 10, 12, tzinfo=UTC), tick=False):
        account = make_account(credit=1000)
        PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("0.7501")})
    owner = account.memberships.get().user

    def send(i: int, n: int = 3, **kwargs) -> list[Message]:
        to = [f"+447400{i:03d}{k:03d}" for k in range(n)]
        return message_submit(
            account_id=account.pk, user=owner, caller=f"user:{owner.pk}", to=to, text="Sale", **kwargs
        ).messages

    with time_machine.travel(datetime(2026, 3, 14, 9, tzinfo=UTC), tick=True):
        sent = run_concurrently(
            *(partial(send, i) for i in range(8)),
            partial(send, 8, scheduled_at=datetime(2026, 4, 5, 9, tzinfo=UTC)),
            partial(ledger_topup, account_id=account.pk, points=Decimal("250.25")),
            partial(ledger_adjust, account_id=account.pk, points=Decimal("-0.0003"), note="correction"),
        )
        # Refunds while sends go on: two failures and a canceled scheduled message.
        run_concurrently(
            *(partial(send, 10 + i) for i in range(4)),
            partial(message_fail, message_id=sent[0][0].pk, error_code="test"),
            partial(message_fail, message_id=sent[1][0].pk, error_code="test"),
            partial(message_cancel, account_id=account.pk, message_id=sent[8][0].pk, actor=owner),
        )
    # Sends at once across the month's last midnight: each falls on one side of it.
    with time_machine.travel(datetime(2026, 3, 31, 23, 59, 59, 900_000, tzinfo=UTC), tick=True):
        run_concurrently(*(partial(send, 20 + i) for i in range(8)))
    with time_machine.travel(datetime(2026, 4, 2, 8, tzinfo=UTC), tick=True):
        run_concurrently(*(partial(send, 30 + i) for i in range(3)), partial(send, 40, n=1))

    start, end = month_bounds(MARCH)
    march = statement(account_id=account.pk, month=MARCH)
    rows = LedgerEntry.objects.filter(account_id=account.pk, created_at__gte=start, created_at__lt=end)
    assert march.opening == Decimal("1000") == ledger_total(account.pk, created_at__lt=start)
    assert march.closing == march.opening + ledger_total(account.pk, pk__in=rows.values("pk"))
    for line in march.lines:
        assert line.points == ledger_total(account.pk, pk__in=rows.filter(kind=line.kind).values("pk")), line
        assert line.count == rows.filter(kind=line.kind).count(), line
    assert {line.kind for line in march.lines if line.count} == {"topup", "debit", "refund", "adjustment"}

    april = statement(account_id=account.pk, month=date(2026, 4, 1))
    assert april.opening == march.closing  # not a point lost or counted twice at midnight
    balance = Account.objects.get(pk=account.pk).balance
    assert april.closing == balance == ledger_total(account.pk)
    assert statement(account_id=account.pk, month=date(2026, 5, 1)).opening == balance

    # The page and its CSV say the same, and the month's ledger export sums to the month's change.
    client = Client()
    client.force_login(owner)
    page = client.get("/billing/statement/", {"month": "2026-03"}).content.decode()
    assert f'data-testid="closing">{points_amount(march.closing)}<' in page
    exported = b"".join(client.get("/billing/", {"month": "2026-03", "format": "csv"}).streaming_content).decode()
    points = [Decimal(row["points"]) for row in csv.DictReader(io.StringIO(exported))]
    assert len(points) == rows.count()
    assert sum(points) == march.closing - march.opening
