"""The low-balance warning: the owner's threshold (Account.low_balance_threshold), one e-mail and
one audit event each time the balance crosses below it, re-armed when the balance rises back to it
(top-up, refund), whichever way the balance changes and however many sends cross it together."""

from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from audit.models import AuditEvent
from core.errors import ApplicationError
from messaging import sql
from messaging.models import PriceRule
from messaging.services import ledger_adjust, ledger_topup, message_cancel, message_submit
from messaging.services.ledger import low_balance_threshold_set
from tests.conftest import run_concurrently

LOW = "billing.low_balance"


@pytest.fixture(autouse=True)
def _mail_in_process(email_tasks):
    """The notice e-mail task runs in this process (tests/conftest.py `EmailTasks`)."""


@pytest.fixture(params=["postgresql", "orm"])
def charge_path(request, monkeypatch):
    """PostgreSQL's debit statement and the ORM's steps (SQLite, `make run`): the same rule."""
    if request.param == "orm":
        monkeypatch.setattr(sql, "native", lambda: False)
    return request.param


def price(points: str) -> None:
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal(points)})


def send(owner, n: int = 1, **kwargs):
    to = [f"+4474001{i:05d}" for i in range(n)]
    return message_submit(
        account_id=owner.membership.account_id, user=owner, caller=f"user:{owner.pk}", to=to, text="Hi", **kwargs
    )


def alerted(account_id: int) -> bool:
    return Account.objects.values_list("low_balance_alerted", flat=True).get(pk=account_id)


def low_mails(mailoutbox) -> list:
    return [mail for mail in mailoutbox if "balance is low" in mail.subject]


@pytest.mark.django_db
def test_one_email_per_crossing_and_a_rise_back_to_the_threshold_rearms_it(
    charge_path, owner, mailoutbox, email_tasks, django_capture_on_commit_callbacks
):
    account_id = owner.membership.account_id  # 100 points
    price("10")
    low_balance_threshold_set(account_id=account_id, threshold=Decimal("45"), actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            send(owner)  # 90 … 50: above the threshold
    assert low_mails(mailoutbox) == []
    with django_capture_on_commit_callbacks(execute=True):
        send(owner)  # 40: crosses
    with django_capture_on_commit_callbacks(execute=True):
        send(owner)  # 30: still below, already told
    [mail] = low_mails(mailoutbox)
    assert mail.to == [owner.email]
    # Queued after the commit as the notice task, whose arguments are the owner's id and the text.
    [(task, arguments, _)] = email_tasks.queued
    assert (task, arguments["user_id"], sorted(arguments)) == (
        "accounts.tasks.send_notice_email",
        owner.pk,
        ["body", "subject", "user_id"],
    )
    assert "40 points" in mail.body
    assert "45 points" in mail.body
    assert alerted(account_id)
    event = AuditEvent.objects.get(action=LOW)
    assert (event.account_id, event.data) == (account_id, {"balance": "40.0000", "threshold": "45.0000"})

    with django_capture_on_commit_callbacks(execute=True):
        ledger_topup(account_id=account_id, points=Decimal("10"))  # 40: still below, not re-armed
        send(owner)  # 30
    assert len(low_mails(mailoutbox)) == 1
    assert alerted(account_id)
    with django_capture_on_commit_callbacks(execute=True):
        ledger_topup(account_id=account_id, points=Decimal("15"))  # 45: back to the threshold, re-armed
    assert not alerted(account_id)
    with django_capture_on_commit_callbacks(execute=True):
        send(owner)  # 35: a second crossing, a second e-mail
    assert len(low_mails(mailoutbox)) == 2
    assert AuditEvent.objects.filter(action=LOW).count() == 2


@pytest.mark.django_db
def test_a_refund_rearms_and_a_staff_adjustment_can_cross(owner, mailoutbox, django_capture_on_commit_callbacks):
    account_id = owner.membership.account_id  # 100 points
    price("30")
    low_balance_threshold_set(account_id=account_id, threshold=Decimal("50"), actor=owner)
    later = timezone.now() + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        [message] = send(owner, scheduled_at=later).messages  # 70
        send(owner)  # 40: crosses
    assert len(low_mails(mailoutbox)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        message_cancel(account_id=account_id, message_id=message.pk, actor=owner)  # refunded: 70
    assert not alerted(account_id)
    with django_capture_on_commit_callbacks(execute=True):
        ledger_adjust(account_id=account_id, points=Decimal("-25"), note="correction")  # 45: crosses
    assert len(low_mails(mailoutbox)) == 2
    assert alerted(account_id)


@pytest.mark.django_db
def test_setting_the_threshold_is_audited_and_does_not_mail_for_a_balance_already_below(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    account_id = owner.membership.account_id
    with django_capture_on_commit_callbacks(execute=True):
        low_balance_threshold_set(account_id=account_id, threshold=Decimal("500"), actor=owner)
    assert alerted(account_id)  # the page warns at once; the owner set it while looking at it
    assert low_mails(mailoutbox) == []
    low_balance_threshold_set(account_id=account_id, threshold=None, actor=owner)
    assert not alerted(account_id)
    changes = AuditEvent.objects.filter(action="billing.low_balance_threshold_changed").order_by("id")
    assert [event.data for event in changes] == [
        {"from": None, "to": "500.0000"},
        {"from": "500.0000", "to": None},
    ]
    assert all(event.actor_id == owner.pk for event in changes)
    with pytest.raises(ApplicationError):
        low_balance_threshold_set(account_id=account_id, threshold=Decimal("-1"), actor=owner)


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_crossing_together_send_one_email(charge_path, make_account, mailoutbox):
    """Twelve sends at once on PostgreSQL against a balance of 55 and a threshold of 50: five are
    charged (45, 35 … 5), the rest refused for credit; the crossing is seen once, under the lock."""
    account = make_account(credit=55)
    owner = account.memberships.get().user
    price("10")
    low_balance_threshold_set(account_id=account.pk, threshold=Decimal("50"), actor=owner)

    def attempt(i: int) -> str:
        try:
            message_submit(account_id=account.pk, user=owner, caller=f"user:{owner.pk}", to=[f"+44740010{i:04d}"],
                           text="Hi")  # fmt: skip
        except ApplicationError as exc:
            return exc.code
        return "sent"

    outcomes = run_concurrently(*(partial(attempt, i) for i in range(12)))
    assert sorted(outcomes) == ["insufficient_credit"] * 7 + ["sent"] * 5
    assert Account.objects.get(pk=account.pk).balance == Decimal("5")
    assert len(low_mails(mailoutbox)) == 1
    assert AuditEvent.objects.filter(action=LOW, account_id=account.pk).count() == 1


@pytest.mark.django_db
def test_the_warning_costs_a_send_no_query_until_the_balance_crosses(owner, django_capture_on_commit_callbacks):
    """The hot path: the debit's own statement reads the threshold and the flag; one conditional
    UPDATE (and the audit event) only for the send that crosses."""
    account_id = owner.membership.account_id
    price("1")

    def queries_of_a_send() -> int:
        with CaptureQueriesContext(connection) as captured:
            send(owner)
        return len(captured)

    queries_of_a_send()  # warm: the price list, the sender names
    without = queries_of_a_send()
    low_balance_threshold_set(account_id=account_id, threshold=Decimal("10"), actor=owner)
    assert queries_of_a_send() == without  # above the threshold
    Account.objects.filter(pk=account_id).update(balance=Decimal("10.5"))
    crossing = queries_of_a_send()  # 9.5: crosses
    assert crossing <= without + 2
    assert queries_of_a_send() == without  # below, already told
