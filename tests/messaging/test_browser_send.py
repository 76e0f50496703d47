"""The send form in headless Chromium: what the live counter shows is what the server charges,
line breaks included (the browser posts them as CR LF, the counter reads them as LF)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Account
from messaging.models import Message, PriceRule
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_text_with_line_breaks_costs_the_parts_the_counter_shows(page, live_server, make_account):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    owner = make_account(credit=100).memberships.get().user
    base = live_server.url
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.goto(base + "/messages/send/")
    page.get_by_label("Recipients").fill("+447400100001")
    text = "a" * 79 + "\n" + "a" * 78 + "\n" + "a"  # 160 characters, two of them line breaks
    page.get_by_label("Message").fill(text)
    expect(page.get_by_test_id("segment-counter")).to_contain_text("160 characters · GSM-7 · 1 part ·")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_text("1 message queued: 1 point. Balance 99 points.")).to_be_visible()

    message = Message.objects.get()
    assert (message.text, message.segments, message.cost) == (text, 1, Decimal("1"))
    assert Account.objects.get(pk=owner.membership.account_id).balance == 99
