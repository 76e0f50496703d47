import csv
import io
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, Membership, User
from messaging.models import Message, PriceRule, SenderName
from messaging.segments import count_segments
from messaging.services import message_submit
from tests.conftest import PASSWORD
from tests.page_support import post_form

pytestmark = pytest.mark.django_db


def submit(user, **kwargs):
    kwargs.setdefault("to", ["+447400100001"])
    kwargs.setdefault("text", "Hello")
    return message_submit(account_id=user.membership.account_id, user=user, caller="test", **kwargs)


def test_send_page_sends_and_redirects_to_the_batch(signed_in, owner):
    page = signed_in.get("/messages/send/")
    assert page.status_code == 200
    assert b"data-segment-counter" in page.content
    response = post_form(
        signed_in, "/messages/send/", {"recipients": "+447400100001, +447400100002\n+447400100001", "text": "Hi there"}
    )
    assert response.status_code == 302
    batch = Message.objects.get(recipient="+447400100001").batch_id
    assert response["Location"] == f"/messages/?batch={batch}"
    follow = signed_in.get(response["Location"])
    assert b"2 messages" in follow.content


def test_a_line_break_typed_in_the_send_form_costs_what_the_counter_shows(signed_in, owner):
    """Browsers post a textarea's line breaks as CR LF; the live counter reads LF, one character."""
    typed = "a" * 80 + "\n" + "a" * 79  # what the textarea (and the live counter) hold: 160 characters
    assert count_segments(typed).segments == 1
    response = post_form(
        signed_in, "/messages/send/", {"recipients": "+447400100001", "text": typed.replace("\n", "\r\n")}
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert (message.text, message.segments) == (typed, 1)
    assert Account.objects.get(pk=owner.membership.account_id).balance == 99


@pytest.mark.parametrize(
    ("price", "shown"),
    [
        ("10", "1 message queued: 10 points. Balance 90 points."),
        ("0.5", "1 message queued: 0.5 points. Balance 99.5 points."),
    ],
)
def test_the_send_confirmation_shows_amounts_as_plain_numbers(signed_in, price, shown):
    PriceRule.objects.filter(country="").update(price_per_segment=Decimal(price))
    response = post_form(signed_in, "/messages/send/", {"recipients": "+447400100001", "text": "Hi"}, follow=True)
    page = response.content.decode()
    assert "E+" not in page
    assert shown in page


def test_send_page_shows_errors_and_writes_nothing(signed_in):
    response = post_form(signed_in, "/messages/send/", {"recipients": "+44 12, nope", "text": ""})
    assert response.status_code == 200
    assert b"This field is required" in response.content
    response = post_form(signed_in, "/messages/send/", {"recipients": "+4412, nope", "text": "x"})
    assert b"Invalid number: nope" in response.content
    assert not Message.objects.exists()


def test_send_page_schedules_in_utc(signed_in):
    when = (timezone.now() + timezone.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    post_form(signed_in, "/messages/send/", {"recipients": "+447400100001", "text": "Later", "scheduled_at": when})
    message = Message.objects.get()
    assert message.status == "scheduled"
    assert message.scheduled_at.strftime("%Y-%m-%dT%H:%M") == when


def test_log_filters_paginates_and_exports(signed_in, owner):
    first = submit(owner, to=[f"+4474001{i:05d}" for i in range(60)])
    submit(owner, to=["+48500100200"], text="=cmd|' /C calc'!A0")
    page = signed_in.get("/messages/")
    assert b"61 messages" in page.content
    assert b"Page 1 of 2" in page.content
    filtered = signed_in.get(f"/messages/?batch={first.batch_id}&recipient=44740010005")
    assert b"10 messages" in filtered.content
    export = signed_in.get("/messages/?format=csv&recipient=48500100200")
    body = b"".join(export.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["id", "created_at", "recipient"]
    assert len(rows) == 2
    assert rows[1][2] == "'+48500100200" or rows[1][2] == "+48500100200"


def test_detail_shows_history_and_cancel_refunds(signed_in, owner):
    result = submit(owner, scheduled_at=timezone.now() + timezone.timedelta(hours=3))
    message = result.messages[0]
    page = signed_in.get(f"/messages/{message.pk}/")
    assert b"Cancel and refund" in page.content
    signed_in.post(f"/messages/{message.pk}/cancel/")
    message.refresh_from_db()
    assert message.status == "canceled"
    owner.membership.account.refresh_from_db()
    assert owner.membership.account.balance == 100
    assert b"canceled" in signed_in.get(f"/messages/{message.pk}/").content


def test_another_accounts_message_is_not_found(signed_in, make_account):
    other = make_account(credit=10).memberships.get().user
    message = submit(other).messages[0]
    assert signed_in.get(f"/messages/{message.pk}/").status_code == 404
    assert signed_in.post(f"/messages/{message.pk}/cancel/").status_code == 404
    assert signed_in.get(f"/messages/{uuid.uuid4()}/").status_code == 404
    message.refresh_from_db()
    assert message.status == "queued"


def test_subuser_without_view_messages_sees_only_its_own(client, owner):
    sub = User.objects.create_user("viewer@example.com", PASSWORD)
    Membership.objects.create(user=sub, account=owner.membership.account, role="subuser", view_messages=False)
    submit(owner)
    mine = submit(User.objects.get(pk=sub.pk), to=["+447400100009"]).messages[0]
    client.force_login(sub)
    page = client.get("/messages/")
    assert b"1 message" in page.content
    assert mine.recipient.encode() in page.content


def test_sender_names_request(signed_in, owner):
    response = signed_in.post("/messages/senders/", {"name": "ACME", "note": "Shop"})
    assert response.status_code == 302
    sender = SenderName.objects.get(name="ACME")
    assert sender.status == "pending"
    assert b"Waiting for approval" in signed_in.get("/messages/senders/").content
    assert b"up to 11 letters" in signed_in.post("/messages/senders/", {"name": "TwelveChars1"}).content
    assert b"already requested" in signed_in.post("/messages/senders/", {"name": "acme"}).content


def test_admin_actions_release_and_reject_held_messages(owner):
    from messaging.models import BlockedDomain
    from messaging.services import messages_review

    BlockedDomain.objects.get_or_create(domain="bit.ly")
    held = submit(owner, to=["+447400100001", "+447400100002"], text="bit.ly/x").messages
    assert messages_review(message_ids=[held[0].pk], release=True, actor=None) == 1
    assert messages_review(message_ids=[held[1].pk], release=False, actor=None) == 1
    statuses = dict(Message.objects.values_list("recipient", "status"))
    assert statuses == {"+447400100001": "queued", "+447400100002": "rejected"}
    owner.membership.account.refresh_from_db()
    assert owner.membership.account.balance == 99
