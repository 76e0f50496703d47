"""The demo account of `make run`: a phone number the product accepts, and where its SMS go."""

import pytest
from django.core.management import call_command

from accounts.models import User
from core.phone import EXAMPLE_MOBILE
from messaging.models import Message
from security.models import SMSDevice
from tests.conftest import force_login_recent, latest_sms_code

pytestmark = pytest.mark.django_db

DEMO = "demo@example.com"


def test_the_demo_users_phone_is_accepted_by_the_sms_two_factor_page(client, capsys):
    call_command("demo_account")
    user = User.objects.get(email=DEMO)
    assert user.phone == EXAMPLE_MOBILE
    force_login_recent(client, user)
    page = client.get("/accounts/security/two-factor/sms/").content.decode()
    assert f'value="{EXAMPLE_MOBILE}"' in page  # pre-filled with the demo user's number
    response = client.post("/accounts/security/two-factor/sms/", {"phone": user.phone})
    assert response.status_code == 302, response.content.decode()
    assert response.url == "/accounts/security/two-factor/sms/confirm/"
    response = client.post(response.url, {"code": latest_sms_code(EXAMPLE_MOBILE)})
    assert response.status_code == 200  # the first backup codes
    assert SMSDevice.objects.get(user=user).confirmed


def test_the_demo_account_says_where_its_sms_are_printed(capsys, settings):
    settings.SMS_BACKEND = "console"
    call_command("demo_account")
    assert "SMS (sign-in codes, test SMS) are printed in this terminal" in capsys.readouterr().out
    call_command("demo_account")  # every run says it, not only the first
    assert "printed in this terminal" in capsys.readouterr().out


def test_an_older_demo_users_refused_number_is_replaced(capsys):
    call_command("demo_account")
    User.objects.filter(email=DEMO).update(phone="+447700900123")  # what demo accounts had before
    call_command("demo_account")
    assert User.objects.get(email=DEMO).phone == EXAMPLE_MOBILE
    assert f"phone is now {EXAMPLE_MOBILE}" in capsys.readouterr().out


def test_the_test_sms_is_refused_for_a_stored_number_that_is_not_valid(client, owner):
    User.objects.filter(pk=owner.pk).update(phone="+447700900123")  # stored before numbers were checked
    client.force_login(owner)
    response = client.post("/messages/test-sms/", follow=True)
    assert "is not a valid number" in response.content.decode()
    assert not Message.objects.exists()
