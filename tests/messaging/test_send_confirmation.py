"""The send page's counter (its JSON preview) and its confirmation step, through Django's test
client: the preview counts what the send then charges (typed numbers and the members of ticked
groups, each once; opted-out numbers free; invalid ones named; destination prices), and a send
past the threshold is confirmed before anything is stored or charged."""

import html
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from contacts import services as contacts
from messaging.models import LedgerEntry, Message, PriceRule
from tests.api_support import make_subuser
from tests.page_support import FORM_NONCE, post_form

pytestmark = pytest.mark.django_db

PREVIEW = "/messages/send/preview/"
SEND = "/messages/send/"


@pytest.fixture
def account(make_account):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    PriceRule.objects.update_or_create(country="PL", defaults={"price_per_segment": Decimal("2.5")})
    return make_account(credit=1000)


@pytest.fixture
def owner(account):
    return account.memberships.get().user


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def groups(account):
    a = contacts.group_create(account_id=account.pk, name="A")
    b = contacts.group_create(account_id=account.pk, name="B")
    contacts.contact_create(account_id=account.pk, phone="+447400000001", group_ids=[a.pk, b.pk])
    contacts.contact_create(account_id=account.pk, phone="+447400000002", group_ids=[a.pk])
    contacts.contact_create(account_id=account.pk, phone="+48500100200", group_ids=[b.pk])
    return a, b


def balance(account) -> Decimal:
    return Account.objects.get(pk=account.pk).balance


def test_the_preview_counts_ticked_groups_each_number_once_at_destination_prices(signed_in, groups):
    a, b = groups
    answer = signed_in.post(
        PREVIEW, {"recipients": "+447400000001, +447400000009", "groups": [a.pk, b.pk], "text": "Hi"}
    ).json()
    # +447400000001 typed and in both groups: once. Three UK numbers at 1, one Polish at 2.5.
    assert (answer["recipients"], answer["messages"], answer["cost"]) == (4, 4, "5.5")
    assert answer["summary"] == "4 recipients · 4 messages for 5.5 points"
    assert answer["invalid"] == []
    assert answer["error"] == ""


def test_the_preview_names_invalid_numbers_and_counts_opted_out_ones_free(signed_in, account, groups):
    contacts.opt_out_add(account_id=account.pk, phone="+447400000002", source="portal")
    answer = signed_in.post(PREVIEW, {"recipients": "nope +4412", "groups": [groups[0].pk], "text": "Hi"}).json()
    assert (answer["recipients"], answer["messages"], answer["opted_out"], answer["cost"]) == (2, 1, 1, "1")
    assert answer["invalid"] == ["nope", "+4412"]
    assert "not valid: nope, +4412" in answer["summary"]


def test_the_preview_costs_a_few_queries_whatever_the_number_of_recipients(signed_in, account):
    group = contacts.group_create(account_id=account.pk, name="Many")
    data = {"recipients": "+447400000001", "groups": [group.pk], "text": "Hi"}
    signed_in.post(PREVIEW, data)
    with CaptureQueriesContext(connection) as few:
        signed_in.post(PREVIEW, data)
    contacts.contacts_import(account_id=account.pk, rows=[(n, [f"+4474001{n:05d}", "", "Many"]) for n in range(1, 301)])
    with CaptureQueriesContext(connection) as many:
        answer = signed_in.post(PREVIEW, data).json()
    assert answer["recipients"] == 301
    assert len(many) == len(few) < 15


def test_the_preview_is_csrf_protected_and_scoped_to_the_account(owner, groups, make_account):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post(PREVIEW, {"recipients": "+447400000001", "text": "Hi"}).status_code == 403
    other = make_account()
    theirs = contacts.group_create(account_id=other.pk, name="Theirs")
    contacts.contact_create(account_id=other.pk, phone="+447400000777", group_ids=[theirs.pk])
    client = Client()
    client.force_login(owner)
    answer = client.post(PREVIEW, {"groups": [theirs.pk], "text": "Hi"}).json()
    assert answer["recipients"] == 0
    assert answer["error"]
    assert client.get(PREVIEW).status_code == 405


def test_a_member_without_send_permission_gets_no_preview(owner):
    member = make_subuser(owner, send_sms=False)
    client = Client()
    client.force_login(member)
    assert client.post(PREVIEW, {"recipients": "+447400000001", "text": "Hi"}).status_code == 403


# --- The confirmation step ----------------------------------------------------------------------


HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


def hidden_fields(page: str) -> dict[str, list[str]]:
    """What the confirmation form posts back (its hidden fields; the CSRF token is the client's)."""
    fields: dict[str, list[str]] = {}
    for name, value in HIDDEN.findall(page):
        if name != "csrfmiddlewaretoken":
            fields.setdefault(name, []).append(html.unescape(value))
    return fields


def numbers(count: int) -> str:
    return " ".join(f"+4474005{n:05d}" for n in range(count))


def test_past_the_recipient_threshold_the_send_is_confirmed_before_anything_is_stored(signed_in, account, settings):
    settings.SMS_CONFIRM_ABOVE_RECIPIENTS = 3
    page = post_form(signed_in, SEND, {"recipients": numbers(4), "text": "Hi"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "You are about to send <strong>4 messages</strong> for <strong>4 points</strong>." in text
    assert not Message.objects.exists()
    assert balance(account) == 1000
    assert not LedgerEntry.objects.filter(account=account, kind="debit").exists()

    # The confirmation form carries everything back, with the form's nonce: sent once.
    fields = hidden_fields(text)
    assert {"form_nonce", "confirm_messages", "confirm_cost", "recipients", "text"} <= set(fields)
    response = signed_in.post(SEND, fields)
    assert response.status_code == 302
    assert Message.objects.count() == 4
    assert balance(account) == 996
    again = signed_in.post(SEND, fields, follow=True)
    assert "already sent" in again.content.decode()
    assert Message.objects.count() == 4
    assert balance(account) == 996


def test_past_the_points_threshold_the_send_is_confirmed(signed_in, account, settings):
    settings.SMS_CONFIRM_ABOVE_POINTS = 5
    page = post_form(signed_in, SEND, {"recipients": numbers(2), "text": "x" * 400})  # 3 parts each
    assert "You are about to send <strong>2 messages</strong> for <strong>6 points</strong>." in page.content.decode()
    assert not Message.objects.exists()


def test_below_the_thresholds_there_is_no_step(signed_in, account, settings):
    settings.SMS_CONFIRM_ABOVE_RECIPIENTS = 3
    response = post_form(signed_in, SEND, {"recipients": numbers(3), "text": "Hi"})
    assert response.status_code == 302
    assert Message.objects.count() == 3


def test_the_step_is_asked_again_when_the_count_changed_meanwhile(signed_in, account, groups, settings):
    settings.SMS_CONFIRM_ABOVE_RECIPIENTS = 2
    page = post_form(signed_in, SEND, {"groups": [groups[0].pk, groups[1].pk], "text": "Hi"}).content.decode()
    assert "<strong>3 messages</strong>" in page
    fields = hidden_fields(page)
    contacts.contact_create(account_id=account.pk, phone="+447400000003", group_ids=[groups[0].pk])
    again = signed_in.post(SEND, fields).content.decode()
    assert "The count or the cost changed" in again
    assert "<strong>4 messages</strong>" in again
    assert not Message.objects.exists()
    fields = hidden_fields(again)
    assert signed_in.post(SEND, fields).status_code == 302
    assert Message.objects.count() == 4


def test_back_to_the_form_keeps_what_was_typed_and_sends_nothing(signed_in, account, settings):
    settings.SMS_CONFIRM_ABOVE_RECIPIENTS = 1
    page = post_form(signed_in, SEND, {"recipients": numbers(2), "text": "Hello there"}).content.decode()
    fields = {**hidden_fields(page), "edit": ["1"]}
    form = signed_in.post(SEND, fields).content.decode()
    assert "Hello there</textarea>" in form
    assert FORM_NONCE.search(form)
    assert not Message.objects.exists()


def test_a_send_without_the_forms_nonce_is_not_sent(signed_in, account):
    page = signed_in.post(SEND, {"recipients": "+447400000001", "text": "Hi"}).content.decode()
    assert "The form had expired" in page
    assert not Message.objects.exists()
