"""An Idempotency-Key lasts 24 hours: a repeat within them replays the first answer
(test_submit.py), after them it is a new request, and the job that purges old records removes it."""

from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from messaging.models import PriceRule
from messaging.services import message_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced():
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})


def test_an_idempotency_key_can_be_used_again_after_24_hours(owner, priced):
    def send():
        return message_submit(
            account_id=owner.membership.account_id, user=owner, caller="c", to=["+447400100001"], text="x",
            idempotency_key="k", response_builder=lambda r: {"batch_id": str(r.batch_id)},
        )  # fmt: skip

    first = send()
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=25)):
        again = send()
    assert not again.replayed
    assert again.batch_id != first.batch_id


def test_idempotency_records_are_purged_after_24_hours(owner, priced):
    from messaging.models import IdempotencyRecord
    from messaging.services.submit import idempotency_records_purge

    message_submit(
        account_id=owner.membership.account_id, user=owner, caller="c", to=["+447400100001"], text="x",
        idempotency_key="k", response_builder=lambda r: {"batch_id": str(r.batch_id)},
    )  # fmt: skip
    assert idempotency_records_purge() == 0
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=25)):
        assert idempotency_records_purge() == 1
    assert not IdempotencyRecord.objects.exists()
