"""A sub-user's "send now" outside its sending window is scheduled for the window's opening (SPEC
§3): the send page says so before (the window, and when a message sent now would leave, in the
user's time zone) and after (scheduled for when, and why)."""

from datetime import time
from decimal import Decimal

import pytest
import time_machine

from messaging.models import Message, PriceRule
from tests.api_support import make_subuser
from tests.page_support import post_form

pytestmark = pytest.mark.django_db

SATURDAY_NOON = "2026-11-21T12:00:00Z"
MONDAY_TEN = "2026-11-23T10:00:00Z"  # 11:00 in Warsaw


@pytest.fixture
def sub(owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    user = make_subuser(
        owner,
        send_sms=True,
        window_weekdays=[1, 2, 3, 4, 5],
        window_start=time(9),
        window_end=time(17),
        window_timezone="Europe/Warsaw",
    )
    user.time_zone = "Europe/Warsaw"
    user.save(update_fields=["time_zone"])
    return user


@pytest.fixture
def signed_in(client, sub):
    client.force_login(sub)
    return client


def test_the_send_page_tells_a_sub_user_outside_its_window_when_a_message_would_leave(signed_in):
    with time_machine.travel(SATURDAY_NOON, tick=False):
        page = signed_in.get("/messages/send/").content.decode()
    assert "Your sending window: Mon-Fri, 09:00-17:00 Europe/Warsaw." in page
    assert "It is closed now: a message sent now is scheduled and leaves Mon 23 Nov 2026 09:00 (Europe/Warsaw)." in page


def test_the_leave_time_is_shown_in_the_users_own_time_zone(signed_in, sub):
    sub.time_zone = "America/New_York"
    sub.save(update_fields=["time_zone"])
    with time_machine.travel(SATURDAY_NOON, tick=False):
        page = signed_in.get("/messages/send/").content.decode()
    assert "leaves Mon 23 Nov 2026 03:00 (America/New_York)." in page


def test_a_send_now_outside_the_window_says_it_was_scheduled_and_why(signed_in):
    with time_machine.travel(SATURDAY_NOON, tick=False):
        page = post_form(signed_in, "/messages/send/", {"recipients": "+447400100001", "text": "Hi"}, follow=True)
    text = page.content.decode()
    assert "1 message scheduled" in text
    assert (
        "Scheduled for Mon 23 Nov 2026 09:00 (Europe/Warsaw): now is outside your sending window "
        "(Mon-Fri, 09:00-17:00 Europe/Warsaw)." in text
    )
    message = Message.objects.get()
    assert (message.status, message.scheduled_at.isoformat()) == ("scheduled", "2026-11-23T08:00:00+00:00")


def test_inside_the_window_the_page_says_it_is_open_and_the_send_leaves_at_once(signed_in):
    with time_machine.travel(MONDAY_TEN, tick=False):
        page = signed_in.get("/messages/send/").content.decode()
        assert "It is open now." in page
        done = post_form(signed_in, "/messages/send/", {"recipients": "+447400100001", "text": "Hi"}, follow=True)
    assert "1 message queued" in done.content.decode()
    assert "outside your sending window" not in done.content.decode()
    assert Message.objects.get().status == "queued"


def test_the_owner_has_no_window_notice(client, owner):
    client.force_login(owner)
    with time_machine.travel(SATURDAY_NOON, tick=False):
        assert 'data-testid="sending-window"' not in client.get("/messages/send/").content.decode()
