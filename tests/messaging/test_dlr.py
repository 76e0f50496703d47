from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from messaging import sql
from messaging.backends import SendResult
from messaging.backends.kannel import dlr_token, dlr_url
from messaging.models import Message, MessageEvent, PriceRule
from messaging.services import (
    delivery,
    dlr_record,
    message_deliver,
    message_submit,
    messages_recover_stuck,
    messages_release_due,
)
from messaging.services.reports import dlr_progress
from tests.messaging.support import stuck_in_doubt

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["postgresql", "orm"])
def report_path(request, monkeypatch):
    """Every test here runs on both ways of applying a report: PostgreSQL's one statement, and
    the ORM's steps that SQLite takes under `make run`."""
    if request.param == "orm":
        monkeypatch.setattr(sql, "native", lambda: False)
    return request.param


@pytest.fixture
def sent_message(owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    message = message_submit(
        account_id=owner.membership.account_id, user=owner, caller="t", to=["+447400100001"], text="Hi"
    ).messages[0]
    Message.objects.filter(pk=message.pk).update(status="sent", sent_at=timezone.now())
    return message


def report(client, message_id, status, token=None, ip="127.0.0.1"):
    return client.get(
        "/hooks/kannel/dlr",
        {"id": str(message_id), "t": token or dlr_token(str(message_id)), "status": status},
        REMOTE_ADDR=ip,
    )


def test_dlr_url_carries_the_id_and_a_per_message_token(settings):
    settings.PUBLIC_URL = "https://portal.example.com"
    url = dlr_url("abc")
    assert url.startswith("https://portal.example.com/hooks/kannel/dlr?id=abc&t=")
    assert url.endswith("&status=%d&at=%T")
    assert dlr_token("abc") != dlr_token("abd")
    assert settings.SECRET_KEY not in url


def test_delivered_report_moves_the_message_forward_once(client, sent_message):
    assert report(client, sent_message.pk, 1).content == b"applied\n"
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered"
    assert sent_message.delivered_at is not None
    assert report(client, sent_message.pk, 1).content == b"ignored\n"  # a replay changes nothing
    assert report(client, sent_message.pk, 8).content == b"ignored\n"  # a late "accepted" cannot go back
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered"
    assert list(MessageEvent.objects.filter(message=sent_message).values_list("status", flat=True)) == ["delivered"]


@pytest.mark.parametrize(
    ("code", "status", "balance"),
    [(16, "failed", 100), (2, "undelivered", 99)],  # SPEC §3: refunds on failed, not on undelivered
)
def test_failure_reports_end_the_message_and_refund_only_failures_once(client, sent_message, code, status, balance):
    account_id = sent_message.account_id
    assert Account.objects.get(pk=account_id).balance == 99
    report(client, sent_message.pk, code)
    report(client, sent_message.pk, code)
    sent_message.refresh_from_db()
    assert sent_message.status == status
    assert Account.objects.get(pk=account_id).balance == balance


def test_a_report_redacts_a_security_code_even_before_the_hand_over_is_recorded(client, owner):
    from messaging.services import REDACTED_TEXT, message_send_system

    message = message_send_system(account=owner.membership.account, user=owner, to="+447400100001",
                                  text="123456 is your code", sensitive=True)  # fmt: skip
    Message.objects.filter(pk=message.pk).update(status="sending")
    report(client, message.pk, 8)
    message.refresh_from_db()
    assert message.text == REDACTED_TEXT


def test_accepted_report_proves_the_hand_over_of_a_message_still_sending(client, sent_message):
    Message.objects.filter(pk=sent_message.pk).update(status="sending")
    report(client, sent_message.pk, 8)
    sent_message.refresh_from_db()
    assert sent_message.status == "sent"


def test_wrong_token_or_source_is_refused(client, sent_message, settings):
    assert report(client, sent_message.pk, 1, token="0" * 32).status_code == 403
    assert report(client, sent_message.pk, 1, token=dlr_token("another-id")).status_code == 403
    assert report(client, sent_message.pk, 1, ip="203.0.113.5").status_code == 403
    # A forged X-Forwarded-For from an untrusted peer does not help.
    response = client.get(
        "/hooks/kannel/dlr",
        {"id": str(sent_message.pk), "t": dlr_token(str(sent_message.pk)), "status": 1},
        REMOTE_ADDR="203.0.113.5",
        HTTP_X_FORWARDED_FOR="127.0.0.1",
    )
    assert response.status_code == 403
    assert report(client, sent_message.pk, "x").status_code == 400
    sent_message.refresh_from_db()
    assert sent_message.status == "sent"


def test_unknown_message_and_unknown_codes_are_ignored(client, sent_message):
    import uuid

    other = str(uuid.uuid4())
    assert report(client, other, 1).content == b"ignored\n"
    assert report(client, sent_message.pk, 64).content == b"ignored\n"


def test_scheduled_messages_are_released_when_due(owner, django_capture_on_commit_callbacks):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    when = timezone.now() + timezone.timedelta(minutes=5)
    message = message_submit(
        account_id=owner.membership.account_id,
        user=owner,
        caller="t",
        to=["+447400100001"],
        text="Later",
        scheduled_at=when,
    ).messages[0]
    assert messages_release_due() == 0
    Message.objects.filter(pk=message.pk).update(scheduled_at=timezone.now() - timezone.timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as callbacks:
        assert messages_release_due() == 1
    assert len(callbacks) == 1
    message.refresh_from_db()
    assert message.status == "queued"


def test_the_status_history_of_a_message_through_its_reports(client, sent_message):
    """sending → accepted → buffered → delivered: each report that means something leaves an
    event, in order; the status only moves forward."""
    Message.objects.filter(pk=sent_message.pk).update(status="sending", sent_at=None)
    assert report(client, sent_message.pk, 8).content == b"applied\n"
    sent_message.refresh_from_db()
    assert sent_message.status == "sent"
    assert sent_message.sent_at is not None
    assert report(client, sent_message.pk, 8).content == b"ignored\n"  # a replay: no new event
    assert report(client, sent_message.pk, 4).content == b"ignored\n"  # buffered: an event, no move
    assert report(client, sent_message.pk, 1).content == b"applied\n"
    assert report(client, sent_message.pk, 4).content == b"ignored\n"  # after the end: nothing
    events = MessageEvent.objects.filter(message=sent_message).order_by("created_at", "id")
    assert [(e.status, e.detail) for e in events] == [
        ("sent", "accepted by the SMSC"),
        ("sent", "buffered by the SMSC"),
        ("delivered", "delivery report"),
    ]
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered"
    assert sent_message.delivered_at >= sent_message.sent_at


def test_a_late_report_still_redacts_a_security_code(client, owner):
    from messaging.services import REDACTED_TEXT, message_send_system

    message = message_send_system(account=owner.membership.account, user=owner, to="+447400100001",
                                  text="123456 is your code", sensitive=True)  # fmt: skip
    Message.objects.filter(pk=message.pk).update(status="delivered", delivered_at=timezone.now())
    assert report(client, message.pk, 1).content == b"ignored\n"
    message.refresh_from_db()
    assert message.text == REDACTED_TEXT
    assert message.status == "delivered"


def test_a_report_for_an_id_that_is_not_a_message_id_is_ignored(client):
    """The token is an HMAC of whatever id is given: a well-signed nonsense id is no 500."""
    assert report(client, "not-a-uuid", 1).content == b"ignored\n"
    assert report(client, "not-a-uuid", 16).content == b"ignored\n"


def test_a_report_signed_before_a_key_rotation_counts_while_the_old_key_is_a_fallback(client, sent_message, settings):
    old_token = dlr_token(str(sent_message.pk))  # handed to Kannel with the old key
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    settings.SECRET_KEY_FALLBACKS = []
    assert report(client, sent_message.pk, 1, token=old_token).status_code == 403
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert report(client, sent_message.pk, 1, token=old_token).status_code == 200
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered"


class Accepting:
    """A gateway that takes every message (Kannel's 202)."""

    def send_messages(self, messages):
        return [SendResult(id=m.id, status="sent", provider_id="k") for m in messages]


def history(message) -> list[tuple[str, str]]:
    return list(MessageEvent.objects.filter(message=message).values_list("status", "detail"))


def test_the_history_of_a_message_delivered_through_kannel_shows_its_hand_over(owner, monkeypatch):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    [message] = message_submit(
        account_id=owner.membership.account_id, user=owner, caller="t", to=["+447400100001"], text="Hi"
    ).messages
    monkeypatch.setattr(delivery, "get_backend", lambda: Accepting())
    message_deliver(message_ids=[str(message.pk)])  # Kannel answered 202
    assert dlr_record(message_id=str(message.pk), kannel_status=8) == "ignored"  # the SMSC accepted it
    assert dlr_record(message_id=str(message.pk), kannel_status=1) == "applied"  # and the phone got it
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.sent_at is not None
    assert history(message) == [("sent", "handed to the gateway"), ("delivered", "delivery report")]


def test_the_history_lists_reports_in_the_order_they_were_applied_whatever_their_clocks(owner):
    """Two reports handled side by side read the clock before they wait for the message's row
    lock, so the one applied second may carry the earlier time: the history still ends with the
    status the message ended in (it is in the order of application)."""
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    [message] = message_submit(
        account_id=owner.membership.account_id, user=owner, caller="t", to=["+447400100001"], text="Hi"
    ).messages
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENDING)
    now = timezone.now()
    assert dlr_progress(message_id=message.pk, kannel_status=8, now=now) == "applied"  # read the clock later
    assert (
        dlr_progress(message_id=message.pk, kannel_status=1, now=now - timezone.timedelta(milliseconds=5)) == "applied"
    )
    message.refresh_from_db()
    assert message.status == "delivered"
    assert history(message)[-1][0] == "delivered"


def test_a_hand_over_a_report_recorded_first_leaves_one_event(owner, monkeypatch):
    """The SMSC's report can beat the worker's own record of Kannel's answer: one `sent` event."""
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    [message] = message_submit(
        account_id=owner.membership.account_id, user=owner, caller="t", to=["+447400100001"], text="Hi"
    ).messages

    class ReportFirst:
        def send_messages(self, messages):
            for m in messages:
                assert dlr_record(message_id=m.id, kannel_status=8) == "applied"
            return [SendResult(id=m.id, status="sent", provider_id="k") for m in messages]

    monkeypatch.setattr(delivery, "get_backend", lambda: ReportFirst())
    message_deliver(message_ids=[str(message.pk)])
    assert history(message) == [("sent", "accepted by the SMSC")]


def test_recording_a_hand_over_is_one_statement_on_postgresql(owner, monkeypatch, report_path):
    """The event rides on the UPDATE (a CTE): the hot path pays no extra round trip for it."""
    [message] = message_submit(
        account_id=owner.membership.account_id, user=owner, caller="t", to=["+447400100001"], text="Hi"
    ).messages
    monkeypatch.setattr(delivery, "get_backend", lambda: Accepting())
    with CaptureQueriesContext(connection) as captured:
        message_deliver(message_ids=[str(message.pk)])
    # Read the batch, its recipients' opt-outs (one query a batch), claim, record (+ the event's
    # INSERT on the ORM path SQLite takes).
    assert len(captured) == (4 if report_path == "postgresql" else 5), [q["sql"] for q in captured]
    assert history(message) == [("sent", "handed to the gateway")]


def test_a_scheduled_message_released_to_the_queue_has_it_in_its_history(owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    [message] = message_submit(
        account_id=owner.membership.account_id,
        user=owner,
        caller="t",
        to=["+447400100001"],
        text="Later",
        scheduled_at=timezone.now() + timezone.timedelta(minutes=5),
    ).messages
    Message.objects.filter(pk=message.pk).update(scheduled_at=timezone.now() - timezone.timedelta(seconds=1))
    assert messages_release_due() == 1
    assert history(message) == [("queued", "scheduled time reached")]


def test_a_message_the_watchdog_requeues_has_it_in_its_history(owner, monkeypatch):
    message = stuck_in_doubt(owner, monkeypatch)
    messages_recover_stuck()
    assert history(message) == [("queued", "hand-over in doubt: queued again, possibly a duplicate")]
