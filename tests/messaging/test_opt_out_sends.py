"""Sends to opted-out numbers (SPEC §3): each such recipient becomes a message `rejected` with
`opted_out`, cost 0, never handed to a gateway, while the rest of the request goes ahead and is
charged; the API's answer lists them and the send page says how many were skipped. System
messages (sign-in codes, STOP confirmations) are not the account's sends: no opt-out applies."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from accounts.models import Account
from contacts.models import OptOut
from messaging import sql
from messaging.backends import locmem
from messaging.models import LedgerEntry, Message, PriceRule
from messaging.services import message_send_system, message_submit
from tests.api_support import bearer, make_token, post_json
from tests.page_support import post_form

pytestmark = pytest.mark.django_db

NUMBERS = [f"+4474001000{i:02d}" for i in range(5)]


@pytest.fixture(autouse=True)
def _price():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


@pytest.fixture
def funded(make_account):
    return make_account(credit=100).memberships.get().user


def opt_out(user, *numbers: str) -> None:
    OptOut.objects.bulk_create([OptOut(account_id=user.membership.account_id, phone=n, source="sms") for n in numbers])


def submit(user, **kwargs):
    kwargs.setdefault("to", NUMBERS)
    kwargs.setdefault("text", "Hello")
    return message_submit(account_id=user.membership.account_id, user=user, caller="test", **kwargs)


def balance_and_ledger(user) -> tuple[Decimal, Decimal]:
    account_id = user.membership.account_id
    ledger = LedgerEntry.objects.filter(account_id=account_id).aggregate(s=Sum("amount"))["s"]
    return Account.objects.get(pk=account_id).balance, ledger


@pytest.mark.parametrize("charge_path", ["postgresql", "orm"])
def test_a_bulk_send_charges_only_the_numbers_not_opted_out(
    funded, charge_path, monkeypatch, sms_delivery_inline, django_capture_on_commit_callbacks
):
    if charge_path == "orm":
        monkeypatch.setattr(sql, "native", lambda: False)
    opt_out(funded, NUMBERS[1], NUMBERS[3])
    with django_capture_on_commit_callbacks(execute=True):
        result = submit(funded)
    assert result.total_cost == 3
    assert result.balance == 97
    assert balance_and_ledger(funded) == (97, 97)
    by_number = {m.recipient: m for m in Message.objects.filter(batch_id=result.batch_id)}
    for number in (NUMBERS[1], NUMBERS[3]):
        assert (by_number[number].status, by_number[number].error_code, by_number[number].cost) == (
            "rejected",
            "opted_out",
            0,
        )
    assert {by_number[n].status for n in (NUMBERS[0], NUMBERS[2], NUMBERS[4])} == {"delivered"}
    # Never handed to a gateway: the backend got the other three only.
    assert sorted(sms.to for sms in locmem.outbox) == [NUMBERS[0], NUMBERS[2], NUMBERS[4]]
    assert LedgerEntry.objects.get(account_id=funded.membership.account_id, kind="debit").note == "3 messages"


def test_a_send_to_opted_out_numbers_only_charges_nothing(funded, django_capture_on_commit_callbacks):
    opt_out(funded, *NUMBERS[:2])
    with django_capture_on_commit_callbacks() as callbacks:
        result = submit(funded, to=NUMBERS[:2])
    assert result.total_cost == 0
    assert result.balance == 100
    assert set(Message.objects.values_list("status", "cost")) == {("rejected", 0)}
    assert not LedgerEntry.objects.filter(kind="debit").exists()
    assert not callbacks  # nothing to deliver


def test_test_mode_answers_the_same_and_charges_nothing(funded, django_capture_on_commit_callbacks):
    opt_out(funded, NUMBERS[0])
    result = submit(funded, to=NUMBERS[:2], test_mode=True)
    assert [(m.recipient, m.status, m.cost) for m in result.messages] == [
        (NUMBERS[0], "rejected", 0),
        (NUMBERS[1], "queued", 1),
    ]
    assert balance_and_ledger(funded)[0] == 100


def test_a_scheduled_send_rejects_opted_out_numbers_at_once(funded):
    from datetime import timedelta

    from django.utils import timezone

    opt_out(funded, NUMBERS[0])
    result = submit(funded, to=NUMBERS[:2], scheduled_at=timezone.now() + timedelta(hours=1))
    assert [m.status for m in result.messages] == ["rejected", "scheduled"]
    assert result.total_cost == 1


def test_the_api_lists_skipped_recipients_with_their_status_and_no_cost(client, funded):
    opt_out(funded, NUMBERS[0])
    _, token = make_token(funded)
    response = post_json(client, "/api/v1/messages", {"to": NUMBERS[:2], "text": "Hi"}, **bearer(token))
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"batch_id", "messages", "total_cost", "balance", "test"}
    assert [(m["to"], m["status"], m["cost"]) for m in body["messages"]] == [
        (NUMBERS[0], "rejected", "0.0000"),
        (NUMBERS[1], "queued", "1.0000"),
    ]
    assert set(body["messages"][0]) == {"id", "to", "status", "segments", "encoding", "cost"}
    assert body["total_cost"] == "1.0000"
    detail = client.get(f"/api/v1/messages/{body['messages'][0]['id']}", **bearer(token)).json()
    assert (detail["status"], detail["error_code"]) == ("rejected", "opted_out")


def test_the_send_page_says_how_many_were_skipped(client, funded):
    opt_out(funded, NUMBERS[0], NUMBERS[1])
    client.force_login(funded)
    page = post_form(client, "/messages/send/", {"recipients": " ".join(NUMBERS[:3]), "text": "Hi"}, follow=True)
    assert b"1 message queued: 1 point. 2 skipped: opted out (not charged)." in page.content
    page = post_form(client, "/messages/send/", {"recipients": NUMBERS[0], "text": "Hi"}, follow=True)
    assert b"Nothing sent: the recipient has opted out." in page.content


def test_system_messages_are_not_subject_to_opt_outs(funded):
    opt_out(funded, NUMBERS[0])
    message = message_send_system(account=funded.membership.account, user=funded, to=NUMBERS[0], text="Code")
    assert (message.status, message.error_code) == ("queued", "")


def test_a_scheduled_message_to_a_number_that_opted_out_since_is_rejected_and_refunded(funded, settings):
    """The opt-out is checked again when the message leaves (scheduled, deferred to a sending
    window, released by staff): a STOP that came after the send was accepted is honoured."""
    from datetime import timedelta

    from django.utils import timezone

    from messaging.services import message_deliver, messages_release_due

    settings.SMS_BACKEND = "locmem"
    locmem.outbox.clear()
    later = timezone.now() + timedelta(hours=1)
    result = submit(funded, to=NUMBERS[:2], scheduled_at=later)
    account_id = funded.membership.account_id
    assert Account.objects.get(pk=account_id).balance == 98
    opt_out(funded, NUMBERS[0])  # STOP arrives before the scheduled time
    Message.objects.filter(batch_id=result.batch_id).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    messages_release_due()
    message_deliver(message_ids=[str(m.pk) for m in result.messages])
    by_number = {m.recipient: m for m in Message.objects.filter(batch_id=result.batch_id)}
    assert (by_number[NUMBERS[0]].status, by_number[NUMBERS[0]].error_code) == ("rejected", "opted_out")
    assert by_number[NUMBERS[1]].status in ("sent", "delivered")
    assert [sms.to for sms in locmem.outbox] == [NUMBERS[1]]
    account = Account.objects.get(pk=account_id)
    assert account.balance == 99  # the rejected one refunded
    assert LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] == account.balance
