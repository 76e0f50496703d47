"""messages_cancel: several scheduled messages canceled in one transaction, each refunded, all of
them or none (the dialects' batch cancels: SMSGate's DELETE /messages/{id}, SMSAPI's sch_del)."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from core.errors import Conflict, NotFound
from messaging.models import LedgerEntry, Message
from messaging.services import message_submit, messages_cancel

pytestmark = pytest.mark.django_db


def scheduled(owner, count: int) -> list[Message]:
    result = message_submit(
        account_id=owner.membership.account_id,
        user=owner,
        caller="test",
        to=[f"+4474001000{i:02d}" for i in range(count)],
        text="Later",
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    return list(result.messages)


def balance_and_ledger(owner) -> tuple[Decimal, Decimal]:
    account = owner.membership.account
    account.refresh_from_db()
    return account.balance, LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]


def test_canceling_several_messages_refunds_each_and_the_ledger_still_sums_to_the_balance(funded_owner):
    messages = scheduled(funded_owner, 3)
    before, _ = balance_and_ledger(funded_owner)
    canceled = messages_cancel(
        account_id=funded_owner.membership.account_id, message_ids=[m.pk for m in messages], actor=funded_owner
    )
    assert {m.pk for m in canceled} == {m.pk for m in messages}
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.CANCELED}
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 3
    balance, ledger = balance_and_ledger(funded_owner)
    assert balance == ledger == before + sum(m.cost for m in messages)


@pytest.mark.parametrize("spoiler", ["sent", "unknown", "other_account", "not_a_uuid"])
def test_one_message_that_cannot_be_canceled_cancels_none(funded_owner, make_account, spoiler):
    messages = scheduled(funded_owner, 3)
    if spoiler == "sent":
        Message.objects.filter(pk=messages[1].pk).update(status=Message.Status.SENT)
        extra, error = [], Conflict
    elif spoiler == "unknown":
        extra, error = [uuid.uuid4()], NotFound
    elif spoiler == "other_account":
        other = make_account(email="other@example.com", credit=100, phone="+447400900124").memberships.get().user
        extra, error = [m.pk for m in scheduled(other, 1)], NotFound
    else:
        extra, error = ["not-a-uuid"], NotFound
    before = balance_and_ledger(funded_owner)
    with pytest.raises(error):
        messages_cancel(
            account_id=funded_owner.membership.account_id,
            message_ids=[m.pk for m in messages] + extra,
            actor=funded_owner,
        )
    assert not Message.objects.filter(status=Message.Status.CANCELED).exists()
    assert balance_and_ledger(funded_owner) == before
