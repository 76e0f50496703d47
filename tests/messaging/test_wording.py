"""The messaging pages' wording: points without trailing zeros and with the right plural, date
filters that say what they filter, refusals that count properly."""

from decimal import Decimal

import pytest

from messaging.models import Message
from messaging.services import message_submit
from messaging.services.charging import no_credit_error, over_monthly_limit_error
from tests.page_support import post_form

pytestmark = pytest.mark.django_db


def test_one_message_for_one_point_is_said_in_the_singular(signed_in):
    response = post_form(signed_in, "/messages/send/", {"recipients": "+447400100001", "text": "Hi"}, follow=True)
    page = response.content.decode()
    assert "1 message queued: 1 point. Balance 99 points." in page
    message = Message.objects.get()
    detail = signed_in.get(f"/messages/{message.pk}/").content.decode()
    assert "<dd>1 point</dd>" in detail
    send_page = signed_in.get("/messages/send/").content.decode()
    assert "99 points" in send_page
    assert "price 1 point per part" in send_page


def test_the_log_shows_costs_and_filters_in_words(signed_in, owner):
    message_submit(account_id=owner.membership.account_id, user=owner, caller="test", to=["+447400100001"], text="Hi")
    page = signed_in.get("/messages/").content.decode()
    assert "<td>1</td>" in page  # the cost column: "1", not "1.0000"
    assert ">Since</label>" in page
    assert ">Until</label>" in page
    assert ">From</label>" not in page
    assert ">To</label>" not in page


def test_refusals_count_points_in_words():
    assert no_credit_error(Decimal("1.0000")).detail.startswith("Not enough credit: this request costs 1 point,")
    refused = over_monthly_limit_error(Decimal("2.5000"), Decimal("5.0000"), Decimal("4.0000"))
    assert refused.detail == "This request costs 2.5 points; your monthly limit leaves 1 point."
