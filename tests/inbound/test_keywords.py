"""STOP and START (SPEC §6): the sender's opt-out in the account owning the number, audited and
published; a send to that number is then rejected (`opted_out`) and not charged, and after START
delivered and charged again; the account's free confirmation reply, from the inbound number."""

from decimal import Decimal

import pytest

from accounts.models import Account
from audit.models import AuditEvent
from contacts.models import OptOut
from inbound.models import InboundSettings
from inbound.services import OPT_IN, OPT_OUT, keyword_of
from messaging.backends import locmem
from messaging.models import Message, PriceRule
from messaging.services import message_submit
from tests.inbound.conftest import NUMBER, SENDER, mo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _price():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


def send(owner, to=SENDER):
    return message_submit(account_id=owner.membership.account_id, user=owner, caller="test", to=[to], text="Offer")


def balance(owner) -> Decimal:
    return Account.objects.get(pk=owner.membership.account_id).balance


def test_stop_then_a_send_is_rejected_and_free_then_start_delivers_again(
    client, owner, number, published, sms_delivery_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert mo(client, text="STOP", ts="1").status_code == 200
    opt_out = OptOut.objects.get()
    assert (opt_out.account_id, opt_out.phone, opt_out.source) == (owner.membership.account_id, SENDER, "sms")
    assert AuditEvent.objects.filter(action="contacts.opt_out_added", account_id=opt_out.account_id).exists()
    created = [e for e in published if e.action == "opt_out.created"]
    assert [(e.object_id, e.data["source"]) for e in created] == [(SENDER, "sms")]
    # The confirmation: a free system SMS from the inbound number, delivered.
    [reply] = locmem.outbox
    assert (reply.to, reply.sender) == (SENDER, NUMBER)
    assert reply.text == InboundSettings.DEFAULT_OPT_OUT_REPLY
    assert Message.objects.get(recipient=SENDER, is_system=True).cost == 0
    locmem.outbox.clear()

    before = balance(owner)
    with django_capture_on_commit_callbacks(execute=True):
        result = send(owner)
    [message] = result.messages
    assert (message.status, message.error_code, message.cost) == ("rejected", "opted_out", 0)
    assert balance(owner) == before
    assert locmem.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert mo(client, text="start", ts="2").status_code == 200
    assert not OptOut.objects.exists()
    assert [e.action for e in published if e.action.startswith("opt_out")] == ["opt_out.created", "opt_out.removed"]
    assert locmem.outbox[-1].text == InboundSettings.DEFAULT_OPT_IN_REPLY
    locmem.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = send(owner)
    assert Message.objects.get(pk=result.messages[0].pk).status == "delivered"
    assert balance(owner) == before - 1
    assert [sms.to for sms in locmem.outbox] == [SENDER]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("STOP", OPT_OUT),
        ("  stop  ", OPT_OUT),
        ("Stop!", OPT_OUT),
        ("unsubscribe.", OPT_OUT),
        ("Quit !!", OPT_OUT),
        ("STOPALL", OPT_OUT),
        ("Start", OPT_IN),
        ("yes.", OPT_IN),
        ("UNSTOP", OPT_IN),
        ("stop please", None),
        ("don't stop", None),
        ("", None),
        ("!!!", None),
        ("St op", None),
    ],
)
def test_keywords_are_the_whole_trimmed_text_any_case_without_trailing_punctuation(text, kind):
    assert keyword_of(text) == kind


def test_keywords_come_from_the_settings(settings):
    settings.SMS_OPT_OUT_KEYWORDS = ["HALT"]
    settings.SMS_OPT_IN_KEYWORDS = ["GO"]
    assert keyword_of("halt") == OPT_OUT
    assert keyword_of("STOP") is None
    assert keyword_of("go!") == OPT_IN


def test_the_confirmation_reply_follows_the_accounts_setting(client, owner, number, django_capture_on_commit_callbacks):
    client.force_login(owner)
    page = client.get("/inbox/settings/")
    assert page.status_code == 200
    assert InboundSettings.DEFAULT_OPT_OUT_REPLY.encode() in page.content
    saved = client.post(
        "/inbox/settings/",
        {"confirmation_reply": "on", "opt_out_reply": "Bye from ACME. START to undo.", "opt_in_reply": "Welcome back"},
    )
    assert saved.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        mo(client, text="STOP", ts="1")
    assert Message.objects.get(is_system=True).text == "Bye from ACME. START to undo."
    client.post("/inbox/settings/", {"opt_out_reply": "x", "opt_in_reply": "y"})  # switched off
    assert not InboundSettings.objects.get().confirmation_reply
    with django_capture_on_commit_callbacks(execute=True):
        mo(client, text="START", ts="2")
    assert Message.objects.filter(is_system=True).count() == 1
    assert not OptOut.objects.exists()  # the keyword still counts
    assert AuditEvent.objects.filter(action="inbound.settings_changed").count() == 2


def test_a_keyword_from_a_sender_that_is_no_number_changes_nothing(client, number):
    assert mo(client, **{"from": "ACME", "text": "STOP"}).status_code == 200
    assert not OptOut.objects.exists()
    assert not Message.objects.exists()


def test_a_keyword_to_an_unassigned_number_opts_out_of_no_account(client, number):
    mo(client, to="+447700900999", text="STOP")
    assert not OptOut.objects.exists()
    assert not Message.objects.exists()


def test_a_repeated_stop_is_handled_once(client, number, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mo(client, text="STOP", ts="7")
        mo(client, text="STOP", ts="7")
    assert OptOut.objects.count() == 1
    assert Message.objects.filter(is_system=True).count() == 1


def test_only_a_keyword_that_changes_something_is_confirmed(client, number, django_capture_on_commit_callbacks):
    """A "YES" answering a customer's question from a number that never opted out, or a STOP sent
    again later, gets no free SMS: replying to each would be unsolicited (and a pump)."""
    with django_capture_on_commit_callbacks(execute=True):
        mo(client, text="YES", ts="1")
        assert not Message.objects.filter(is_system=True).exists()
        mo(client, text="STOP", ts="2")
        mo(client, text="Stop!", ts="3")
        mo(client, text="START", ts="4")
        mo(client, text="yes", ts="5")
    assert list(Message.objects.filter(is_system=True).order_by("created_at").values_list("text", flat=True)) == [
        InboundSettings.DEFAULT_OPT_OUT_REPLY,
        InboundSettings.DEFAULT_OPT_IN_REPLY,
    ]
