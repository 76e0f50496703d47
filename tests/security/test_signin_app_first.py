"""The sign-in's second step starts with the authenticator app when one is enrolled: no SMS is sent
until the user asks for one ("Text me a code instead", a POST throttled like a resend)."""

import pytest
import time_machine
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from messaging.models import Message
from security import services
from tests.conftest import PASSWORD, enrol_sms, latest_sms_code
from tests.security.test_otp import VERIFY, password_step, totp_now, verify

pytestmark = pytest.mark.django_db

TEXT_ME = "Text me a code instead"


def codes_sent(user: User) -> int:
    return Message.objects.filter(recipient=user.phone, sensitive=True).count()


@pytest.fixture
def app_and_phone(owner) -> TOTPDevice:
    """The owner has both an authenticator app and codes by SMS."""
    enrol_sms(owner)
    return TOTPDevice.objects.create(user=owner, name="Authenticator app", confirmed=True)


def test_with_an_app_enrolled_the_step_starts_with_it_and_sends_no_sms(client, owner, app_and_phone):
    password_step(client, owner)
    assert codes_sent(owner) == 0
    page = client.get(VERIFY).content.decode()
    assert "Enter the 6-digit code your authenticator app shows now." in page
    assert '<input type="hidden" name="method" value="totp">' in page
    assert TEXT_ME in page
    assert 'name="action" value="resend"' in page  # a POST with its CSRF token, not a link
    assert "csrfmiddlewaretoken" in page
    assert '<a href="?method=backup">a backup code</a>' not in page  # no backup codes yet
    assert codes_sent(owner) == 0


def test_the_app_code_signs_in_without_any_sms(client, owner, app_and_phone):
    password_step(client, owner)
    assert verify(client, totp_now(app_and_phone), method="totp").status_code == 302
    assert client.get("/").status_code == 200
    assert codes_sent(owner) == 0


def test_text_me_a_code_sends_one_and_that_code_signs_in(client, owner, app_and_phone):
    password_step(client, owner)
    response = client.post(VERIFY, {"action": "resend"}, follow=True)
    assert codes_sent(owner) == 1
    page = response.content.decode()
    assert "A code is on its way." in page
    assert "We sent a 6-digit code by SMS to" in page
    assert verify(client, latest_sms_code(owner.phone)).status_code == 302
    assert client.get("/").status_code == 200


def test_text_me_a_code_is_throttled_like_a_resend(client, owner, app_and_phone):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        password_step(client, owner)
        client.post(VERIFY, {"action": "resend"})
        again = client.post(VERIFY, {"action": "resend"}, follow=True)
        assert "A code was sent moments ago" in again.content.decode()
        assert codes_sent(owner) == 1
        traveller.shift(31)
        client.post(VERIFY, {"action": "resend"})
        assert codes_sent(owner) == 2
    assert client.get(VERIFY + "?method=totp").status_code == 200  # the app still works meanwhile


def test_with_only_sms_the_step_sends_the_code_at_once_as_before(client, owner):
    enrol_sms(owner)
    password_step(client, owner)
    assert codes_sent(owner) == 1
    page = client.get(VERIFY).content.decode()
    assert "We sent a 6-digit code by SMS to" in page
    assert TEXT_ME not in page
    assert "Send a new code" in page


def test_backup_codes_remain_available_beside_the_app(client, owner, app_and_phone):
    [code, *_] = services.backup_codes_regenerate(user=owner)
    password_step(client, owner)
    assert '<a href="?method=backup">a backup code</a>' in client.get(VERIFY).content.decode()
    assert verify(client, code, method="backup").status_code == 302
    assert codes_sent(owner) == 0


@pytest.fixture
def staff(db) -> User:
    """A superuser with both an authenticator app and codes by SMS."""
    staff = User.objects.create_user(
        "staff@example.com", PASSWORD, is_staff=True, is_superuser=True, phone="+447911123456"
    )
    enrol_sms(staff)
    TOTPDevice.objects.create(user=staff, name="Authenticator app", confirmed=True)
    return staff


def test_staff_signing_in_with_the_app_reach_the_admin(client, staff):
    app = TOTPDevice.objects.get(user=staff)
    response = client.post("/accounts/login/", {"username": staff.email, "password": PASSWORD, "next": "/admin/"})
    assert response.url == VERIFY
    assert client.get("/admin/").status_code == 302  # not before the second step
    response = verify(client, totp_now(app), method="totp")
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert codes_sent(staff) == 0


def test_staff_texting_a_code_instead_reach_the_admin(client, staff):
    client.post("/accounts/login/", {"username": staff.email, "password": PASSWORD, "next": "/admin/"})
    client.post(VERIFY, {"action": "resend"})
    assert verify(client, latest_sms_code(staff.phone)).url == "/admin/"
    assert client.get("/admin/").status_code == 200
