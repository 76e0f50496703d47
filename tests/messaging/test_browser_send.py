"""The send form in headless Chromium: what the live counter shows is what the server charges
(line breaks included: the browser posts them as CR LF, the counter reads them as LF; ticked
contact groups included: their members count, each number once, at their destination's price),
and a send past the threshold is confirmed before anything is charged, with JavaScript on or off."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Account
from contacts import services as contacts
from messaging.models import LedgerEntry, Message, PriceRule
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def balance(owner) -> Decimal:
    return Account.objects.get(pk=owner.membership.account_id).balance


def test_a_text_with_line_breaks_costs_the_parts_the_counter_shows(page, live_server, make_account):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    owner = make_account(credit=100).memberships.get().user
    sign_in(page, live_server.url, owner.email)

    page.goto(live_server.url + "/messages/send/")
    page.get_by_label("Recipients").fill("+447400100001")
    text = "a" * 79 + "\n" + "a" * 78 + "\n" + "a"  # 160 characters, two of them line breaks
    page.get_by_label("Message").fill(text)
    expect(page.get_by_test_id("segment-counter")).to_contain_text("160 characters · GSM-7 · 1 part")
    expect(page.get_by_test_id("recipient-count")).to_have_text("1 recipient · 1 message for 1 point")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_text("1 message queued: 1 point. Balance 99 points.")).to_be_visible()

    message = Message.objects.get()
    assert (message.text, message.segments, message.cost) == (text, 1, Decimal("1"))
    assert balance(owner) == 99


def test_the_counter_with_ticked_groups_shows_what_the_send_then_charges(page, live_server, make_account):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    PriceRule.objects.update_or_create(country="PL", defaults={"price_per_segment": Decimal("2.5")})
    account = make_account(credit=100)
    owner = account.memberships.get().user
    staff = contacts.group_create(account_id=account.pk, name="Staff")
    clients = contacts.group_create(account_id=account.pk, name="Clients")
    contacts.contact_create(account_id=account.pk, phone="+447400000001", group_ids=[staff.pk, clients.pk])
    contacts.contact_create(account_id=account.pk, phone="+447400000002", group_ids=[staff.pk])
    contacts.contact_create(account_id=account.pk, phone="+48500100200", group_ids=[clients.pk])
    contacts.contact_create(account_id=account.pk, phone="+447400000003", group_ids=[clients.pk])
    contacts.opt_out_add(account_id=account.pk, phone="+447400000003", source="portal")
    sign_in(page, live_server.url, owner.email)

    page.goto(live_server.url + "/messages/send/")
    page.get_by_label("Recipients").fill("+447400000001, +447400000009")
    page.get_by_label("Message").fill("Hello")
    counter = page.get_by_test_id("recipient-count")
    expect(counter).to_have_text("2 recipients · 2 messages for 2 points")
    page.get_by_label("Staff (2)").check()
    page.get_by_label("Clients (3)").check()
    # +447400000001 is typed and in both groups: once. +447400000003 opted out: counted, free.
    expect(counter).to_have_text("5 recipients · 1 opted out (free) · 4 messages for 5.5 points")
    shown = Decimal(counter.get_attribute("data-cost"))

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_text("4 messages queued")).to_be_visible()
    debit = LedgerEntry.objects.get(account=account, kind="debit")
    assert -debit.amount == shown == Decimal("5.5")
    assert balance(owner) == Decimal("94.5")
    assert Message.objects.exclude(error_code="opted_out").count() == 4


def _a_send_past_the_threshold_is_confirmed_first(page, base, owner, *, script: bool) -> None:
    sign_in(page, base, owner.email)
    page.goto(base + "/messages/send/")
    page.get_by_label("Recipients").fill("+447400100001 +447400100002 +447400100003")
    page.get_by_label("Message").fill("Hello")
    if script:
        expect(page.get_by_test_id("recipient-count")).to_contain_text("(you will be asked to confirm)")
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.get_by_role("heading", name="Confirm the send")).to_be_visible()
    expect(page.get_by_test_id("confirm-summary")).to_have_text("You are about to send 3 messages for 3 points.")
    assert not Message.objects.exists()
    assert balance(owner) == 100

    page.get_by_role("button", name="Send 3 messages").click()
    expect(page.get_by_text("3 messages queued: 3 points.")).to_be_visible()
    assert Message.objects.count() == 3
    assert balance(owner) == 97


def test_a_send_past_the_threshold_is_confirmed_before_anything_is_charged(page, live_server, make_account, settings):
    settings.SMS_CONFIRM_ABOVE_RECIPIENTS = 2
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    owner = make_account(credit=100).memberships.get().user
    _a_send_past_the_threshold_is_confirmed_first(page, live_server.url, owner, script=True)


def test_the_confirmation_step_works_without_javascript(browser, live_server, make_account, settings):
    settings.SMS_CONFIRM_ABOVE_RECIPIENTS = 2
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    owner = make_account(credit=100).memberships.get().user
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _a_send_past_the_threshold_is_confirmed_first(page, live_server.url, owner, script=False)
    finally:
        context.close()
