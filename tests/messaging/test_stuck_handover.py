"""A message left in `sending` (the hand-over's outcome unknown): it stays there for a delivery
report or the watchdog, never a blind resend; a security code in doubt is failed, not sent again
(as its redaction placeholder); giving up spares a message a report has moved on; a report that
arrives after the watchdog put the message back in the queue proves its hand-over (it is not
handed over twice); refused connections do not count as hand-overs in doubt."""

import logging
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account
from messaging import sql
from messaging.backends import SendResult
from messaging.models import LedgerEntry, Message, MessageEvent, PriceRule
from messaging.services import (
    delivery,
    dlr_record,
    message_deliver,
    message_fail,
    message_send_system,
    message_submit,
    messages_recover_stuck,
    recovery,
)
from tests.messaging.support import stuck_in_doubt

pytestmark = pytest.mark.django_db


class UnknownThenSent:
    """A gateway that times out reading the first answer (it may have taken the message)."""

    def __init__(self):
        self.texts: list[list[str]] = []

    def send_messages(self, messages):
        self.texts.append([m.text for m in messages])
        status = "unknown" if len(self.texts) == 1 else "sent"
        return [SendResult(id=m.id, status=status, provider_id="x") for m in messages]


def overdue(message_id, settings, **values):
    Message.objects.filter(pk=message_id).update(
        sending_started_at=timezone.now() - 2 * settings.SMS_SENDING_GRACE, **values
    )


def test_a_security_code_in_doubt_is_failed_not_sent_again(owner, monkeypatch, settings):
    gateway = UnknownThenSent()
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    message = message_send_system(
        account=owner.membership.account, user=owner, to="+447400100001", text="123456 is your code", sensitive=True
    )
    message_deliver(message_ids=[str(message.pk)])
    assert Message.objects.get(pk=message.pk).status == Message.Status.SENDING
    overdue(message.pk, settings)
    assert messages_recover_stuck() == 1
    message_deliver(message_ids=[str(message.pk)])  # a task that was already on its way
    message.refresh_from_db()
    assert gateway.texts == [["123456 is your code"]]  # never the placeholder, never twice
    assert (message.status, message.error_code) == (Message.Status.FAILED, "handover_unknown")
    assert message.text == delivery.REDACTED_TEXT


def test_giving_up_spares_a_message_a_report_has_moved_on(owner, monkeypatch, settings):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    account_id = owner.membership.account_id
    [message] = message_submit(account_id=account_id, user=owner, caller="t", to=["+447400100001"], text="Hi").messages
    overdue(message.pk, settings, status=Message.Status.SENDING, attempts=recovery.MAX_HANDOVER_ATTEMPTS)
    fail = delivery.message_fail

    def report_first(**kwargs):  # the carrier's "accepted" report lands between the two steps
        assert dlr_record(message_id=str(kwargs["message_id"]), kannel_status=8) == "applied"
        return fail(**kwargs)

    monkeypatch.setattr(recovery, "message_fail", report_first)
    messages_recover_stuck()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert Account.objects.get(pk=account_id).balance == 99  # charged once, not refunded


class Scripted:
    """A gateway answering each hand-over in turn: (status, retryable), then "sent"."""

    def __init__(self, *answers):
        self.answers, self.sent = list(answers), []

    def send_messages(self, messages):
        results = []
        for m in messages:
            status, retryable = self.answers.pop(0) if self.answers else ("sent", False)
            self.sent.append(m.id)
            results.append(SendResult(id=m.id, status=status, retryable=retryable, error_code="x"))
        return results


@pytest.fixture(params=["postgresql", "orm"])
def report_path(request, monkeypatch):
    """Both ways of applying a report (and of recording a hand-over): PostgreSQL's statements,
    and the ORM's steps that SQLite takes under `make run`."""
    if request.param == "orm":
        monkeypatch.setattr(sql, "native", lambda: False)
    return request.param


@pytest.fixture
def message(owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    return message_submit(
        account_id=owner.membership.account_id, user=owner, caller="t", to=["+447400100001"], text="Hi"
    ).messages[0]


def requeued_in_doubt(message, gateway, monkeypatch, settings):
    """The first hand-over's answer is lost; the watchdog puts the message back in the queue."""
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    message_deliver(message_ids=[str(message.pk)])
    overdue(message.pk, settings)
    messages_recover_stuck()
    message.refresh_from_db()
    assert (message.status, message.possible_duplicate) == (Message.Status.QUEUED, True)


def balance(message) -> Decimal:
    return Account.objects.get(pk=message.account_id).balance


@pytest.mark.parametrize(("kannel_status", "status"), [(8, "sent"), (4, "sent"), (1, "delivered")])
def test_a_report_after_the_watchdog_requeued_a_message_proves_its_hand_over(
    message, monkeypatch, settings, report_path, kannel_status, status
):
    gateway = Scripted(("unknown", False))
    requeued_in_doubt(message, gateway, monkeypatch, settings)
    # The report for the first hand-over arrives while the message waits to be sent again.
    assert dlr_record(message_id=str(message.pk), kannel_status=kannel_status) == "applied"
    message_deliver(message_ids=[str(message.pk)])  # the watchdog's task
    assert len(gateway.sent) == 1, "handed over again although a report proved the first hand-over"
    message.refresh_from_db()
    assert message.status == status
    assert message.sent_at is not None
    assert balance(message) == 99
    assert dlr_record(message_id=str(message.pk), kannel_status=kannel_status) == "ignored"  # a replay


def test_a_late_report_moves_a_requeued_message_forward_only(message, monkeypatch, settings, report_path):
    requeued_in_doubt(message, Scripted(("unknown", False)), monkeypatch, settings)
    assert dlr_record(message_id=str(message.pk), kannel_status=1) == "applied"
    assert dlr_record(message_id=str(message.pk), kannel_status=8) == "ignored"  # late "accepted"
    assert dlr_record(message_id=str(message.pk), kannel_status=16) == "ignored"
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert balance(message) == 99


@pytest.mark.parametrize(("kannel_status", "status", "refunded"), [(16, "failed", True), (2, "undelivered", False)])
def test_a_failure_report_after_the_watchdog_requeued_a_message_ends_it_and_refunds_once(
    message, monkeypatch, settings, report_path, kannel_status, status, refunded
):
    gateway = Scripted(("unknown", False))
    requeued_in_doubt(message, gateway, monkeypatch, settings)
    assert dlr_record(message_id=str(message.pk), kannel_status=kannel_status) == "applied"
    assert dlr_record(message_id=str(message.pk), kannel_status=kannel_status) == "ignored"
    message_deliver(message_ids=[str(message.pk)])
    assert len(gateway.sent) == 1
    message.refresh_from_db()
    assert message.status == status
    assert balance(message) == (100 if refunded else 99)
    account_id = message.account_id
    assert LedgerEntry.objects.filter(account_id=account_id, kind="refund").count() == (1 if refunded else 0)
    assert LedgerEntry.objects.filter(account_id=account_id).aggregate(s=Sum("amount"))["s"] == balance(message)


def test_a_report_for_a_message_queued_again_after_a_refusal_is_ignored(message, monkeypatch, report_path):
    """Refused by the gateway (provably never handed over): no report can be about it."""
    monkeypatch.setattr(delivery, "get_backend", lambda: Scripted(("failed", True)))
    message_deliver(message_ids=[str(message.pk)])
    assert Message.objects.get(pk=message.pk).status == Message.Status.QUEUED
    assert dlr_record(message_id=str(message.pk), kannel_status=1) == "ignored"
    assert Message.objects.get(pk=message.pk).status == Message.Status.QUEUED


def test_a_delivery_report_after_the_watchdog_gave_up_is_recorded_but_the_refund_stands(
    message, monkeypatch, settings, report_path, caplog
):
    """Policy: a failed message stays failed and keeps its refund (final states never move back,
    and a new debit could find the credit spent); the late report goes into its history, once,
    and into the log for staff."""
    overdue(message.pk, settings, status=Message.Status.SENDING, attempts=recovery.MAX_HANDOVER_ATTEMPTS)
    messages_recover_stuck()
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Message.Status.FAILED, "handover_unknown")
    assert balance(message) == 100
    with caplog.at_level(logging.WARNING, logger="messaging.services.delivery"):
        for _ in range(2):  # Kannel may replay a report
            assert dlr_record(message_id=str(message.pk), kannel_status=8) == "ignored"
            assert dlr_record(message_id=str(message.pk), kannel_status=1) == "ignored"
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Message.Status.FAILED, "handover_unknown")
    assert message.delivered_at is None
    assert balance(message) == 100
    assert LedgerEntry.objects.filter(account_id=message.account_id, kind="refund").count() == 1
    events = list(MessageEvent.objects.filter(message=message).values_list("status", "detail"))
    assert events == [
        ("failed", "handover_unknown"),
        ("sent", "accepted by the SMSC after the hand-over was given up; the message stays failed and refunded"),
        ("delivered", "delivery report after the hand-over was given up; the message stays failed and refunded"),
    ]
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and str(message.pk) in r.getMessage()
    ]
    assert len(warnings) == 2
    assert "delivery report after it failed as handover_unknown following a hand-over in doubt" in warnings[1]


def test_refused_connections_do_not_count_as_hand_overs_in_doubt(message, monkeypatch, settings):
    gateway = Scripted(("failed", True), ("failed", True), ("unknown", False))
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    for _ in range(3):  # two refusals retried by the task, then one answer lost
        message_deliver(message_ids=[str(message.pk)])
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.SENDING, 1)
    overdue(message.pk, settings)
    messages_recover_stuck()
    message.refresh_from_db()
    # One hand-over in doubt, no report: it is sent again (flagged), not failed and refunded unsent again.
    assert (message.status, message.possible_duplicate) == ("queued", True), (message.status, message.error_code)
    assert balance(message) == 99


def test_the_watchdog_still_gives_up_after_the_maximum_of_hand_overs_in_doubt(message, monkeypatch, settings):
    answers = [("failed", True), ("unknown", False)] * recovery.MAX_HANDOVER_ATTEMPTS
    gateway = Scripted(*answers)
    monkeypatch.setattr(delivery, "get_backend", lambda: gateway)
    for _ in range(recovery.MAX_HANDOVER_ATTEMPTS):
        message_deliver(message_ids=[str(message.pk)])  # refused: back to the queue, not counted
        message_deliver(message_ids=[str(message.pk)])  # the answer is lost: in doubt
        overdue(message.pk, settings)
        messages_recover_stuck()
    message.refresh_from_db()
    assert len(gateway.sent) == 2 * recovery.MAX_HANDOVER_ATTEMPTS
    assert (message.status, message.error_code) == (Message.Status.FAILED, "handover_unknown")
    assert balance(message) == 100


# The give-up policy holds for every way of giving up, not only for the watchdog's own.
def test_a_report_for_a_requeued_message_whose_retries_ran_out_is_kept(owner, monkeypatch):
    message = stuck_in_doubt(owner, monkeypatch)
    messages_recover_stuck()
    # The gateway refuses every retry; the task gives up (messaging/tasks.py).
    assert message_fail(message_id=message.pk, error_code="gateway_unreachable", only_if=("queued",))
    assert dlr_record(message_id=str(message.pk), kannel_status=1) == "ignored"  # the first hand-over arrived
    details = list(MessageEvent.objects.filter(message=message).values_list("detail", flat=True))
    assert any(d.startswith("delivery report after") for d in details), details
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Message.Status.FAILED, "gateway_unreachable")  # refund stands


def test_no_answer_from_the_gateway_leaves_the_message_for_the_watchdog(owner, settings):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    settings.SMS_BACKEND = "tests.messaging.test_stuck_handover.SilentGateway"
    message = message_submit(
        account_id=owner.membership.account_id, user=owner, caller="c", to=["+447400100001"], text="x"
    ).messages[0]
    assert message_deliver(message_ids=[str(message.pk)]) == []  # not retried: it may have left
    message.refresh_from_db()
    assert message.status == "sending"


class SilentGateway:
    def send_messages(self, messages):
        from messaging.backends import SendResult

        return [SendResult(id=sms.id, status="unknown", error_code="gateway_no_answer") for sms in messages]
