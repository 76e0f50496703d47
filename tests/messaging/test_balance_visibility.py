"""The account's balance shows only to owners and members with `view_billing`
(messaging.selectors.balance_visible), on every page that could show it: the dashboard, the send
page, the message after a send and a send refused for want of credit. Other members see what a
send costs."""

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import Account
from core.text import points_label
from messaging.models import PriceRule
from tests.members.support import make_member
from tests.page_support import post_form

pytestmark = pytest.mark.django_db

BALANCE = Decimal("4321.75")  # a figure found nowhere else on the pages
AFTER_SEND = "4318.75"  # after a 3-point send


@pytest.fixture
def account(owner) -> Account:
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("3")})
    Account.objects.filter(pk=owner.membership.account_id).update(balance=BALANCE)
    return owner.membership.account


def _members(owner):
    return {
        "owner": owner,
        "billing member": make_member(owner, "billing@example.com", send_sms=True, view_billing=True),
        "member": make_member(owner, "sender@example.com", send_sms=True, view_billing=False),
    }


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _shows_balance(page: str) -> bool:
    return "4,321" in page or "4,318" in page  # as people write it: thousands grouped


@pytest.mark.parametrize(("who", "sees"), [("owner", True), ("billing member", True), ("member", False)])
def test_the_dashboard_and_send_page_show_the_balance_only_to_who_may_see_billing(account, owner, who, sees):
    client = _signed_in(_members(owner)[who])
    for path in ("/", "/messages/send/"):
        page = client.get(path).content.decode()
        assert _shows_balance(page) is sees, path
        assert ('data-testid="balance"' in page) is sees, path


@pytest.mark.parametrize(("who", "sees"), [("owner", True), ("billing member", True), ("member", False)])
def test_the_message_after_a_send_names_the_cost_and_the_balance_only_to_who_may_see_billing(account, owner, who, sees):
    client = _signed_in(_members(owner)[who])
    response = post_form(client, "/messages/send/", {"recipients": "+447400100001", "text": "Hi"}, follow=True)
    page = response.content.decode()
    assert "1 message queued: 3 points." in page
    assert (f"Balance {points_label(AFTER_SEND)}." in page) is sees
    assert _shows_balance(page) is sees


@pytest.mark.parametrize("who", ["owner", "member"])
def test_a_send_refused_for_credit_names_its_cost_but_not_the_balance(account, owner, who):
    Account.objects.filter(pk=account.pk).update(balance=Decimal("2.25"))
    client = _signed_in(_members(owner)[who])
    page = post_form(client, "/messages/send/", {"recipients": "+447400100001", "text": "Hi"}).content.decode()
    assert "Not enough credit: this request costs 3" in page
    assert ("2.25" in page) is (who == "owner")  # in the owner's page header only, never in the refusal
    assert "balance is" not in page
