"""The inbox (`view_messages`): the list with search, filters and an empty state; each message
opens the conversation with its sender (both ways, in time order); a reply is a normal send from
the inbound number (charged, the sub-user's rules, opt-outs)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from accounts.models import Account
from contacts.models import OptOut
from inbound.services import inbound_number_assign, inbound_receive
from messaging.models import Message, PriceRule
from messaging.services import message_submit
from tests.api_support import make_subuser
from tests.inbound.conftest import NUMBER, SENDER

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _price():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


def receive(text: str, at: datetime, sender: str = SENDER):
    with time_machine.travel(at, tick=False):
        return inbound_receive(sender=sender, recipient=NUMBER, text=text)


def test_the_inbox_lists_newest_first_with_search_and_an_empty_state(client, owner, number):
    client.force_login(owner)
    empty = client.get("/inbox/")
    assert empty.status_code == 200
    assert b'data-testid="inbox-empty"' in empty.content
    assert NUMBER.encode() in empty.content  # which number to text
    assert b'href="/inbox/"' in empty.content  # the nav entry
    receive("First question", datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    receive("Second question", datetime(2031, 3, 10, 10, 0, tzinfo=UTC), sender="+447400123457")
    page = client.get("/inbox/").content.decode()
    assert page.index("Second question") < page.index("First question")
    found = client.get("/inbox/", {"q": "first"}).content.decode()
    assert "First question" in found
    assert "Second question" not in found
    by_number = client.get("/inbox/", {"q": "123457"}).content.decode()
    assert "Second question" in by_number
    assert "First question" not in by_number
    dated = client.get("/inbox/", {"since": "2031-03-11"}).content.decode()
    assert "No messages match" in dated


def test_the_conversation_shows_both_ways_in_time_order_and_a_reply_is_a_charged_send(client, owner, number):
    account_id = owner.membership.account_id
    with time_machine.travel(datetime(2031, 3, 10, 8, 0, tzinfo=UTC), tick=False):
        message_submit(account_id=account_id, user=owner, caller="test", to=[SENDER], text="Our offer")
    question = receive("Is it still on?", datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    receive("Someone else", datetime(2031, 3, 10, 9, 30, tzinfo=UTC), sender="+447400123457")
    client.force_login(owner)
    page = client.get(f"/inbox/{question.pk}/").content.decode()
    assert page.index("Our offer") < page.index("Is it still on?")
    assert "Someone else" not in page
    before = Account.objects.get(pk=account_id).balance

    reply = client.post(f"/inbox/{question.pk}/", {"text": "Yes, until Friday"}, follow=True)
    assert b"1 message queued: 1 point." in reply.content
    sent = Message.objects.get(text="Yes, until Friday")
    assert (sent.sender, sent.recipient, sent.cost, sent.is_system) == (NUMBER, SENDER, 1, False)
    assert Account.objects.get(pk=account_id).balance == before - 1
    assert "Yes, until Friday" in client.get(f"/inbox/{question.pk}/").content.decode()


def test_a_reply_to_an_opted_out_number_is_skipped(client, owner, number):
    question = receive("STOP", datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    assert OptOut.objects.filter(phone=SENDER).exists()
    client.force_login(owner)
    reply = client.post(f"/inbox/{question.pk}/", {"text": "Sorry to see you go"}, follow=True)
    assert b"Nothing sent: the recipient has opted out." in reply.content
    assert Message.objects.get(text="Sorry to see you go").status == "rejected"


def test_the_inbound_number_is_an_allowed_sender_only_for_its_own_account(client, owner, number, make_account):
    question = receive("Hello?", datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    # Moved to another account: replies can no longer come from it.
    inbound_number_assign(number=NUMBER, account_id=make_account(email="other@example.com").pk)
    client.force_login(owner)
    refused = client.post(f"/inbox/{question.pk}/", {"text": "Hi"})
    assert refused.status_code == 200
    assert b"no longer one of this account" in refused.content
    assert not Message.objects.filter(text="Hi").exists()
    # Nor is it a sender a normal send may name.
    from core.errors import Forbidden

    with pytest.raises(Forbidden):
        message_submit(account_id=owner.membership.account_id, user=owner, caller="t", to=[SENDER], text="x",
                       sender=NUMBER)  # fmt: skip


def test_a_sub_user_limited_to_sender_names_replies_from_the_number(client, owner, number):
    from messaging.models import SenderName

    name = SenderName.objects.create(account=owner.membership.account, name="ACME", status="approved")
    sub = make_subuser(owner, view_messages=True, send_sms=True)
    name.allowed_for.add(sub.membership)
    question = receive("Hello?", datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    client.force_login(sub)
    assert client.post(f"/inbox/{question.pk}/", {"text": "Hi from us"}).status_code == 302
    sent = Message.objects.get(text="Hi from us")
    assert (sent.sender, sent.submitted_by_id) == (NUMBER, sub.pk)


def test_the_inbox_needs_view_messages_and_a_reply_send_sms(client, owner, number):
    question = receive("Hello?", datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    client.force_login(make_subuser(owner, send_sms=True, view_messages=False))
    assert client.get("/inbox/").status_code == 403
    assert client.get(f"/inbox/{question.pk}/").status_code == 403
    client.force_login(make_subuser(owner, view_messages=True, send_sms=False))
    page = client.get(f"/inbox/{question.pk}/")
    assert page.status_code == 200
    assert b"Send reply" not in page.content
    assert client.post(f"/inbox/{question.pk}/", {"text": "Hi"}).status_code == 403
    assert client.get("/inbox/settings/").status_code == 403
    assert not Message.objects.exists()


def test_another_accounts_conversation_is_a_404(client, owner, number, make_account):
    question = receive("Hello?", datetime(2031, 3, 10, 9, 0, tzinfo=UTC))
    client.force_login(make_account(email="other@example.com").memberships.get().user)
    assert client.get(f"/inbox/{question.pk}/").status_code == 404
    assert client.post(f"/inbox/{question.pk}/", {"text": "Hi"}).status_code == 404
