"""The Billing pages (SPEC §4.14): the balance and the ledger with its CSV, the monthly
statement, the price list and the low-balance warning; for the owner and members with
`view_billing` only; and the staff top-up in the admin, by picking the account."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account
from audit.models import AuditEvent
from messaging.models import LedgerEntry, PriceRule
from messaging.services import ledger_adjust, ledger_topup, message_cancel, message_submit
from tests.conftest import verified_staff_client
from tests.members.support import make_member

pytestmark = pytest.mark.django_db

PAGES = [
    "/billing/",
    "/billing/?format=csv",
    "/billing/statement/",
    "/billing/statement/?format=csv",
    "/billing/prices/",
]
AMOUNT_CELL = re.compile(r'<td data-testid="amount">([^<]+)</td>')


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(owner, to=("+447400100001",), **kwargs):
    return message_submit(
        account_id=owner.membership.account_id, user=owner, caller=f"user:{owner.pk}", to=list(to), text="Hi", **kwargs
    )


@pytest.fixture
def activity(owner):
    """Every kind of ledger entry: the opening credit (100), a top-up, two sends, a refund of a
    canceled message and a staff correction: 100 + 50.5 - 3 - 1.5 + 1.5 - 0.25 = 147.25."""
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1.5")})
    account_id = owner.membership.account_id
    ledger_topup(account_id=account_id, points=Decimal("50.5"), note="Invoice 2026-001")
    send(owner, to=["+447400100001", "+447400100002"])
    [scheduled] = send(owner, scheduled_at=timezone.now() + timedelta(days=1)).messages
    message_cancel(account_id=account_id, message_id=scheduled.pk, actor=owner)
    ledger_adjust(account_id=account_id, points=Decimal("-0.25"), note="Rounding correction")
    assert Account.objects.get(pk=account_id).balance == Decimal("147.25")
    return owner.membership.account


def read_csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_ledger_page_and_its_csv_add_up_to_the_balance(owner, activity):
    client = signed_in(owner)
    page = client.get("/billing/").content.decode()
    assert '<p class="stat" data-testid="balance">147.25 <small>points</small>' in page
    amounts = [Decimal(cell.replace(",", "").replace("+", "")) for cell in AMOUNT_CELL.findall(page)]
    assert len(amounts) == 6
    assert sum(amounts) == Decimal("147.25")
    for kind in ("Top-up", "Debit", "Refund", "Adjustment"):
        assert f"<td>{kind}</td>" in page
    assert "Rounding correction" in page
    assert "Invoice 2026-001" in page

    rows = read_csv(client.get("/billing/?format=csv"))
    assert len(rows) == 6
    assert sum(Decimal(row["points"]) for row in rows) == Decimal("147.25")
    newest = rows[0]
    assert (newest["kind"], newest["points"], newest["balance_after"]) == ("adjustment", "-0.2500", "147.2500")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", newest["created_at"])  # UTC, ISO 8601
    # Each entry's balance after is the one below it plus its points: the ledger reads as a chain.
    chain = [(Decimal(row["points"]), Decimal(row["balance_after"])) for row in reversed(rows)]
    balance = Decimal("0")
    for points, after in chain:
        balance += points
        assert balance == after


def test_the_ledger_filters_by_month_and_kind_and_links_each_send_to_its_messages(owner, activity):
    client = signed_in(owner)
    debits = client.get("/billing/", {"kind": "debit"}).content.decode()
    assert len(AMOUNT_CELL.findall(debits)) == 2
    batches = LedgerEntry.objects.filter(kind="debit").values_list("batch_id", flat=True)
    for batch_id in batches:
        assert f'href="/messages/?batch={batch_id}" data-testid="batch-link"' in debits
    this_month = timezone.now().strftime("%Y-%m")
    assert len(AMOUNT_CELL.findall(client.get("/billing/", {"month": this_month}).content.decode())) == 6
    assert AMOUNT_CELL.findall(client.get("/billing/", {"month": "2020-01"}).content.decode()) == []
    rows = read_csv(client.get("/billing/", {"kind": "topup", "format": "csv"}))
    assert [row["points"] for row in rows] == ["50.5000", "100.0000"]
    refused = client.get("/billing/", {"month": "May"})  # not a month: nothing, never everything
    assert refused.status_code == 200
    assert AMOUNT_CELL.findall(refused.content.decode()) == []


def test_another_accounts_entries_and_batches_are_never_shown(owner, activity, make_account):
    other = make_account(credit=40)
    other_owner = other.memberships.get().user
    [other_message] = send(other_owner).messages
    client = signed_in(owner)
    shown = (
        client.get("/billing/").content.decode()
        + b"".join(client.get("/billing/?format=csv").streaming_content).decode()
    )
    assert str(other_message.batch_id) not in shown
    assert "38.5" not in shown


def test_the_monthly_statement_adds_the_months_rows_to_the_opening_balance(owner, activity):
    client = signed_in(owner)
    month = timezone.now().strftime("%Y-%m")
    page = client.get("/billing/statement/", {"month": month}).content.decode()
    shown = {"opening": "0", "line-topup": "+150.5", "line-debit": "-4.5", "line-refund": "+1.5",
             "line-adjustment": "-0.25", "closing": "147.25"}  # fmt: skip
    for testid, points in shown.items():
        assert f'data-testid="{testid}">{points}<' in page
    rows = read_csv(client.get("/billing/statement/", {"month": month, "format": "csv"}))
    assert [(row["line"], row["entries"], row["points"]) for row in rows] == [
        ("opening_balance", "", "0"),
        ("topup", "2", "150.5000"),
        ("debit", "2", "-4.5000"),
        ("refund", "1", "1.5000"),
        ("adjustment", "1", "-0.2500"),
        ("closing_balance", "", "147.2500"),
    ]
    assert client.get("/billing/statement/").status_code == 200  # this month by default
    assert client.get("/billing/statement/", {"month": "13/2026"}).status_code == 400


def test_the_price_list_shows_each_countrys_price_and_the_default(owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("2")})
    PriceRule.objects.create(country="GB", price_per_segment=Decimal("0.5"))
    PriceRule.objects.create(country="PL", price_per_segment=Decimal("1.25"))
    page = signed_in(owner).get("/billing/prices/").content.decode()
    assert "<td>Poland (+48)</td><td>1.25</td>" in page
    assert "<td>United Kingdom (+44)</td><td>0.5</td>" in page
    assert page.index("Poland") < page.index("United Kingdom")
    assert "Every country not listed: <strong>2 points</strong> per part." in page


@pytest.mark.parametrize(("who", "allowed"), [("owner", True), ("billing member", True), ("member", False)])
def test_billing_is_for_the_owner_and_members_with_view_billing(owner, who, allowed):
    user = {
        "owner": owner,
        "billing member": make_member(owner, "billing@example.com", view_billing=True),
        "member": make_member(owner, "member@example.com", view_billing=False, view_messages=True),
    }[who]
    client = signed_in(user)
    for path in PAGES:
        assert client.get(path).status_code == (200 if allowed else 403), path
    menu = client.get("/").content.decode()
    assert ('href="/billing/"' in menu) is allowed
    # Only the owner sets the warning.
    assert client.post("/billing/low-balance/", {"threshold": "10"}).status_code == (302 if who == "owner" else 403)


def test_staff_without_an_account_get_no_billing_page(owner):
    client, _ = verified_staff_client()
    assert client.get("/billing/").status_code == 403


def test_the_owner_sets_the_warning_on_the_billing_page_and_the_portal_shows_it_while_below(owner):
    client = signed_in(owner)
    saved = client.post("/billing/low-balance/", {"threshold": "150"}, follow=True)
    assert "you will be e-mailed when the balance falls below 150 points" in saved.content.decode()
    account = Account.objects.get(pk=owner.membership.account_id)
    assert account.low_balance_threshold == Decimal("150")
    assert AuditEvent.objects.filter(action="billing.low_balance_threshold_changed", actor=owner).exists()
    member = signed_in(make_member(owner, "sender@example.com", send_sms=True, view_billing=False))
    for path in ("/", "/messages/send/", "/billing/"):
        page = client.get(path).content.decode()
        assert 'data-testid="low-balance"' in page, path
        assert "Your balance, 100 points, is below the warning threshold of 150 points." in page
        assert 'data-testid="low-balance"' not in member.get(path).content.decode()
    client.post("/billing/low-balance/", {"threshold": ""})
    assert Account.objects.get(pk=account.pk).low_balance_threshold is None
    assert 'data-testid="low-balance"' not in client.get("/").content.decode()
    for bad in ("-1", "abc", "1e20", "0.00001"):
        refused = client.post("/billing/low-balance/", {"threshold": bad})
        assert refused.status_code == 400, bad
        assert 'data-testid="field-error"' in refused.content.decode()


def test_the_dashboard_balance_links_to_billing(owner):
    page = signed_in(owner).get("/").content.decode()
    assert re.search(r'data-testid="balance"><a href="/billing/"', page)


def test_staff_top_up_an_account_picked_by_its_owners_email(owner, make_account):
    make_account(email="someone-else@example.com", name="Other Ltd")
    account = owner.membership.account
    client, staff = verified_staff_client()
    form = client.get("/admin/messaging/ledgerentry/add/").content.decode()
    assert "admin-autocomplete" in form  # a searchable picker, not a number to type
    search = client.get(
        "/admin/autocomplete/",
        {"term": owner.email, "app_label": "messaging", "model_name": "ledgerentry", "field_name": "account"},
    )
    assert search.status_code == 200
    assert [(r["id"], r["text"]) for r in search.json()["results"]] == [(str(account.pk), account.name)]
    added = client.post(
        "/admin/messaging/ledgerentry/add/", {"account": account.pk, "kind": "topup", "amount": "25", "note": "Paid"}
    )
    assert added.status_code == 302, added.content[:2000]
    entry = LedgerEntry.objects.get(kind="topup", note="Paid")
    assert (entry.account_id, entry.amount, entry.created_by_id) == (account.pk, Decimal("25"), staff.pk)
    assert Account.objects.get(pk=account.pk).balance == Decimal("125")


def test_the_ledger_pages_fifty_entries_at_a_time_keeping_its_filters(owner):
    account_id = owner.membership.account_id
    for n in range(54):
        ledger_topup(account_id=account_id, points=Decimal("1"), note=f"Top-up {n}")
    client = signed_in(owner)
    first = client.get("/billing/", {"kind": "topup"}).content.decode()
    assert len(AMOUNT_CELL.findall(first)) == 50
    assert "Page 1 of 2" in first
    assert 'href="?kind=topup&amp;page=2"' in first
    second = client.get("/billing/", {"kind": "topup", "page": "2"}).content.decode()
    assert len(AMOUNT_CELL.findall(second)) == 5  # the last four of these and the opening credit
    assert "Opening credit" in second


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "1969-12"])
def test_a_month_beyond_the_calendar_is_a_form_error_not_a_server_error(owner, month):
    client = signed_in(owner)
    assert client.get("/billing/statement/", {"month": month}).status_code == 400
    ledger = client.get("/billing/", {"month": month})
    assert ledger.status_code in (200, 400)
    assert "between 1970 and 9998" in ledger.content.decode()
