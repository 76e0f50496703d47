import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from accounts.models import Account
from core.errors import ApplicationError
from messaging.models import LedgerEntry
from messaging.services import ledger_adjust, ledger_topup
from tests.conftest import verified_staff_client


def ledger_sum(account_id: int) -> Decimal:
    return LedgerEntry.objects.filter(account_id=account_id).aggregate(s=Sum("amount"))["s"] or Decimal("0")


@pytest.mark.django_db
def test_adjustment_cannot_take_the_balance_below_zero(owner):
    account_id = owner.membership.account_id
    ledger_adjust(account_id=account_id, points=Decimal("-40"), note="correction")
    with pytest.raises(ApplicationError) as excinfo:
        ledger_adjust(account_id=account_id, points=Decimal("-60.0001"), note="too much")
    assert excinfo.value.status == 402
    assert Account.objects.get(pk=account_id).balance == Decimal("60") == ledger_sum(account_id)


@pytest.mark.django_db
def test_adjustment_needs_a_reason_and_a_non_zero_amount(owner):
    with pytest.raises(ApplicationError, match="note"):
        ledger_adjust(account_id=owner.membership.account_id, points=Decimal("5"), note=" ")
    with pytest.raises(ApplicationError, match="zero"):
        ledger_adjust(account_id=owner.membership.account_id, points=Decimal("0"), note="x")


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_keep_balance_equal_to_ledger(make_account):
    """Twenty threads on PostgreSQL: ten top-ups of 1 and ten adjustments of -2 against a balance of 5.

    Row locks serialise them: every top-up lands, and an adjustment succeeds only while the
    balance allows it, so the balance never goes negative and always equals the ledger sum.
    """
    account_id = make_account(credit=5).pk
    barrier = threading.Barrier(20)
    refused: list[int] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            if i % 2:
                ledger_topup(account_id=account_id, points=Decimal("1"))
            else:
                try:
                    ledger_adjust(account_id=account_id, points=Decimal("-2"), note="race")
                except ApplicationError:
                    refused.append(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    balance = Account.objects.get(pk=account_id).balance
    accepted_adjustments = 10 - len(refused)
    assert balance == Decimal(5 + 10 - 2 * accepted_adjustments)
    assert balance >= 0
    assert balance == ledger_sum(account_id)
    assert LedgerEntry.objects.filter(account_id=account_id, kind="topup").count() == 11
    assert not LedgerEntry.objects.filter(account_id=account_id, balance_after__lt=0).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("points", ["NaN", "Infinity", "-Infinity", "0.00001", "abc", "1e12"])
def test_unusable_amounts_are_refused_cleanly(owner, points):
    account_id = owner.membership.account_id
    with pytest.raises(ApplicationError) as excinfo:
        ledger_topup(account_id=account_id, points=points)
    assert excinfo.value.code == "invalid_amount"
    assert Account.objects.get(pk=account_id).balance == ledger_sum(account_id) == Decimal("100")


def test_a_refused_top_up_in_the_admin_is_not_reported_as_added(owner, monkeypatch):
    from django.contrib.admin.models import LogEntry

    import messaging.admin
    from core.errors import ApplicationError
    from messaging.models import LedgerEntry

    c, _ = verified_staff_client()
    account = owner.membership.account
    url = "/admin/messaging/ledgerentry/add/"
    too_large = c.post(url, {"account": account.pk, "kind": "topup", "amount": "200000000000", "note": "big"})
    assert too_large.status_code == 200  # the form again
    assert "too large" in too_large.content.decode()

    def refused(**_kwargs):  # what the service says when a send spent the credit meanwhile
        raise ApplicationError("The balance is 0; it cannot go below zero.", code="invalid_amount")

    monkeypatch.setattr(messaging.admin, "ledger_adjust", refused)
    response = c.post(url, {"account": account.pk, "kind": "adjustment", "amount": "-5", "note": "fix"}, follow=True)
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["The balance is 0; it cannot go below zero."]
    assert response.redirect_chain[-1][0] == url
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()
    assert not LogEntry.objects.filter(content_type__model="ledgerentry").exists()
