"""The dashboard (SPEC §4.12): balance, this month's spend per member, a chart of messages per day
and the delivery rate, scoped like the message log."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership, User
from core.charts import stacked_day_bars
from messaging.models import Message, PriceRule
from messaging.selectors import DayCount, delivery_rate, messages_per_day, monthly_spend_by_member
from messaging.services import message_submit
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def subuser(owner, email, **values):
    user = User.objects.create_user(email, PASSWORD)
    Membership.objects.create(user=user, account=owner.membership.account, role="subuser", **values)
    return User.objects.get(pk=user.pk)


def message(user, *, days_ago=0, status="delivered", account=None, **values):
    return Message.objects.create(
        account=account or user.membership.account,
        submitted_by=user,
        sender="Shop",
        recipient="+447700111222",
        text="Hello",
        status=status,
        created_at=values.pop("created_at", NOW - timedelta(days=days_ago)),
        **values,
    )


def test_a_new_account_sees_an_empty_state_not_a_chart(client, owner):
    client.force_login(owner)
    body = client.get("/").content.decode()
    assert "No messages in the last 30 days" in body
    assert 'data-testid="day-chart"' not in body


def test_messages_per_day_by_outcome(owner, make_account):
    for status in ("delivered", "delivered", "undelivered", "queued"):
        message(owner, status=status)
    message(owner, days_ago=1, status="rejected")
    message(owner, days_ago=1, status="canceled")  # never left: not counted
    message(owner, days_ago=29, status="sent")
    message(owner, days_ago=30)  # before the window
    message(owner, is_test=True)  # test mode: the API's test keys only
    message(owner, is_system=True, sensitive=True)  # a sign-in code: never shown
    other = make_account().memberships.get().user
    message(other)  # another account's
    days = messages_per_day(user=owner, today=NOW.date())
    assert len(days) == 30
    assert (days[0].day, days[-1].day) == (NOW.date() - timedelta(days=29), NOW.date())
    assert (days[-1].delivered, days[-1].failed, days[-1].pending) == (2, 1, 1)
    assert (days[-2].delivered, days[-2].failed, days[-2].pending) == (0, 1, 0)
    assert (days[0].total, days[0].pending) == (1, 1)
    assert sum(day.total for day in days) == 6
    assert delivery_rate(days) == pytest.approx(2 / 4)
    assert delivery_rate(messages_per_day(user=other, today=NOW.date() - timedelta(days=5))) is None


def test_days_are_utc_days(owner):
    message(owner, created_at=datetime(2026, 11, 19, 23, 59, 59, tzinfo=UTC))
    message(owner, created_at=datetime(2026, 11, 20, 0, 0, 0, tzinfo=UTC))
    days = messages_per_day(user=owner, today=NOW.date())
    assert (days[-2].total, days[-1].total) == (1, 1)


def test_a_sub_user_without_view_messages_charts_only_their_own(owner):
    sub = subuser(owner, "sub@example.com", view_messages=False)
    message(owner)
    message(sub, status="failed")
    days = messages_per_day(user=sub, today=NOW.date())
    assert (days[-1].total, days[-1].failed) == (1, 1)
    assert messages_per_day(user=owner, today=NOW.date())[-1].total == 2


def test_the_chart_stacks_each_day_to_scale():
    days = [
        DayCount(day=NOW.date() - timedelta(days=2 - i), delivered=d, failed=f, pending=p)
        for i, (d, f, p) in enumerate([(0, 0, 0), (3, 1, 0), (6, 2, 2)])
    ]
    chart = stacked_day_bars(days)
    empty, middle, full = chart["bars"]
    assert empty.segments == []
    assert [s.series for s in full.segments] == ["delivered", "failed", "pending"]
    # The axis tops at 10: the 10-message day fills the plot, the 4-message day 40% of it.
    plot = chart["baseline"] - full.segments[-1].y
    assert sum(s.height for s in full.segments) == pytest.approx(plot)
    assert sum(s.height for s in middle.segments) == pytest.approx(plot * 0.4)
    assert full.segments[0].y + full.segments[0].height == pytest.approx(chart["baseline"])  # from the bottom
    assert [t.label for t in chart["ticks"]] == ["0", "5", "10"]
    assert "10 messages (6 delivered, 2 failed, 2 in progress)" in full.title


def test_the_dashboard_draws_the_chart_and_rate(client, owner):
    sub = subuser(owner, "sub@example.com", view_messages=True)
    for status in ("delivered", "delivered", "delivered", "failed"):
        message(owner, status=status)
    with time_machine.travel(NOW + timedelta(hours=1)):
        client.force_login(sub)
        body = client.get("/").content.decode()
    assert 'data-testid="day-chart"' in body
    assert re.search(r'data-testid="delivery-rate">75%<', body)
    assert len(re.findall(r'<rect class="bar-delivered"', body)) == 1
    assert "2026-11-20: 4 messages (3 delivered, 1 failed, 0 in progress)" in body


def test_spend_per_member_this_month(client, owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    account = owner.membership.account
    account.balance = Decimal("100")
    account.save(update_fields=["balance"])
    sub = subuser(owner, "sub@example.com", send_sms=True, view_billing=False, monthly_limit=Decimal("50"))
    with time_machine.travel(datetime(2026, 10, 31, 12, tzinfo=UTC), tick=False):
        message_submit(account_id=account.pk, user=sub, caller="t", to=["+447400100001"] * 1, text="Old month")
    with time_machine.travel(NOW, tick=False):
        message_submit(account_id=account.pk, user=sub, caller="t", to=["+447400100002", "+447400100003"], text="Hi")
        message_submit(account_id=account.pk, user=owner, caller="t", to=["+447400100004"], text="Hi")
        spend = monthly_spend_by_member(account_id=account.pk, now=NOW)
        assert [(s.email, s.spent, s.limit) for s in spend] == [
            ("sub@example.com", Decimal("2"), Decimal("50")),
            (owner.email, Decimal("1"), None),
        ]
        client.force_login(owner)
        body = client.get("/").content.decode()
        assert 'data-testid="spend"' in body
        assert '<progress value="2.0000" max="50.0000"' in body
        # Spend is billing: a member without view_billing does not see it.
        client.force_login(sub)
        assert 'data-testid="spend"' not in client.get("/").content.decode()


def test_the_dashboard_costs_the_same_queries_for_any_number_of_messages(client, owner):
    subuser(owner, "sub@example.com")
    client.force_login(owner)
    client.get("/")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for days_ago in range(20):
        message(owner, created_at=datetime.now(UTC) - timedelta(days=days_ago))
    subuser(owner, "sub2@example.com")
    with CaptureQueriesContext(connection) as many:
        assert client.get("/").status_code == 200
    assert len(many) == len(few)


def test_a_sub_user_without_view_rights_sees_neither_the_accounts_messages_nor_its_balance(client, owner):
    Message.objects.create(
        account=owner.membership.account,
        submitted_by=owner,
        sender="Shop",
        recipient="+447700111222",
        text="secret order",
    )
    sub = subuser(owner, "sub@example.com", view_messages=False, view_billing=False, send_sms=False)
    client.force_login(sub)
    body = client.get("/").content.decode()
    assert "+447700111222" not in body, "sub-user without view_messages sees the owner's recipients"
    assert 'data-testid="balance"' not in body, "sub-user without view_billing sees the balance"
    client.force_login(owner)
    body = client.get("/").content.decode()
    assert "+447700111222" in body
    assert 'data-testid="balance"' in body


def test_the_dashboard_lists_your_own_test_sms_but_no_sign_in_code(client, owner):
    account = owner.membership.account
    sub = subuser(owner, "sub@example.com", view_messages=True)
    Message.objects.create(account=account, submitted_by=owner, is_system=True, sensitive=True,
                           recipient="+447700333444", text="[redacted]")  # fmt: skip
    Message.objects.create(account=account, submitted_by=sub, is_system=True, recipient="+447700555666", text="Test")
    client.force_login(sub)
    body = client.get("/").content.decode()
    assert "+447700555666" in body
    assert "+447700333444" not in body
