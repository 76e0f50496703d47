"""The account in the admin: staff edit an account's settings, never its balance (the ledger's)."""

from decimal import Decimal

import pytest

from accounts.models import Account
from messaging.models import PriceRule
from messaging.services import message_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


def test_saving_an_account_in_the_admin_keeps_the_balance_the_ledger_wrote(admin_client, owner, priced):
    account = owner.membership.account
    page = admin_client.get(f"/admin/accounts/account/{account.pk}/change/")
    assert page.status_code in (200, 302)
    message_submit(account_id=account.pk, user=owner, caller="c", to=["+447400100001"], text="x")
    from django.contrib.admin.sites import site

    from accounts.admin import AccountAdmin

    stale = Account.objects.get(pk=account.pk)
    stale.balance = Decimal("100")  # what the admin page read before the send
    stale.name = "Renamed"
    model_admin = AccountAdmin(Account, site)
    form = type("F", (), {"changed_data": ["name"]})()
    model_admin.save_model(None, stale, form, change=True)
    account.refresh_from_db()
    assert account.name == "Renamed"
    assert account.balance == Decimal("99")
