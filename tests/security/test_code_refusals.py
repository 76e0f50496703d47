"""Why a second-factor code was refused, said precisely: wrong, expired (or used), too many tries
with how long to wait. At sign-in (SMS, authenticator app, backup codes) and in the enrolment
confirmations; the throttles themselves are unchanged."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.context import AuditContext
from core.errors import ApplicationError
from security import services
from tests.conftest import enrol_sms, force_login_recent, latest_sms_code
from tests.security.test_otp import ON_THE_HOUR, password_step, totp_now, verify

pytestmark = pytest.mark.django_db

NOT_RIGHT = "That code is not right."


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def totp_at(device: TOTPDevice, when) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = when.timestamp()
    return f"{totp.token():06d}"


def page(response) -> str:
    return response.content.decode()


def used_again(client, owner, code: str, method: str) -> str:
    """Sign in with `code`, sign out, and offer the same code at the next sign-in: that page."""
    assert verify(client, code, method=method).status_code == 302
    client.post("/accounts/logout/")
    password_step(client, owner)
    return page(verify(client, code, method=method))


# --- Sign-in: codes by SMS ----------------------------------------------------------------------


def test_a_right_sms_code_typed_within_a_second_of_a_wrong_one_says_wait_then_signs_in(client, owner, enrol):
    enrol("sms")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        password_step(client, owner)
        code = latest_sms_code(owner.phone)
        assert NOT_RIGHT in page(verify(client, other(code)))
        refused = verify(client, code)
        assert "Too many tries in a row: wait 1 second, then enter the code again." in page(refused)
        assert NOT_RIGHT not in page(refused)
        traveller.shift(1)
        assert verify(client, code).status_code == 302
    assert client.get("/").status_code == 200


def test_the_wait_after_wrong_sms_codes_grows_and_is_said(client, owner, enrol):
    enrol("sms")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        password_step(client, owner)
        code = latest_sms_code(owner.phone)
        verify(client, other(code))
        traveller.shift(1)
        verify(client, other(code))
        assert "wait 2 seconds," in page(verify(client, code))  # the second failure asks for 2 seconds
        traveller.shift(1)
        assert "wait 1 second," in page(verify(client, code))
        traveller.shift(1)
        assert verify(client, code).status_code == 302


def test_an_expired_sms_code_at_sign_in_says_it_expired(client, owner, enrol):
    enrol("sms")
    password_step(client, owner)
    code = latest_sms_code(owner.phone)
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        refused = page(verify(client, code))
    assert "This code has expired: codes work for 5 minutes. Ask for a new one." in refused
    assert NOT_RIGHT not in refused


def test_a_dead_sms_code_says_too_many_wrong_codes(client, owner, enrol):
    enrol("sms")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        password_step(client, owner)
        code = latest_sms_code(owner.phone)
        for _ in range(5):
            refused = page(verify(client, other(code)))
            traveller.shift(20)
        assert "Too many wrong codes: this code no longer works. Ask for a new one." in refused
        assert "no longer works" in page(verify(client, code))


# --- Sign-in: authenticator app and backup codes -------------------------------------------------


def test_authenticator_codes_at_sign_in_are_told_apart(client, owner, enrol):
    device = enrol("totp")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        password_step(client, owner)
        assert "That code is not right. Check the time on your phone" in page(verify(client, "123", method="totp"))
        traveller.shift(1)
        old = totp_at(device, timezone.now() - timedelta(minutes=3))
        assert "That code has expired. Enter the code your authenticator app shows now." in page(
            verify(client, old, method="totp")
        )
        # Two failures in a row: the next try must wait 2 seconds, and is told so.
        assert "wait 2 seconds" in page(verify(client, totp_now(device), method="totp"))
        traveller.shift(2)
        refused = used_again(client, owner, totp_now(device), "totp")
        assert "That code was already used. Wait for the next code" in refused


def test_backup_codes_at_sign_in_say_wrong_or_already_used(client, owner, enrol):
    enrol("sms")
    [first, *_] = services.backup_codes_regenerate(user=owner)
    password_step(client, owner)
    assert "That backup code is not right." in page(verify(client, "abcde-fghjk", method="backup"))
    assert "That backup code was already used: each works once." in used_again(client, owner, first, "backup")


def test_the_lock_after_too_many_wrong_codes_says_how_long_it_lasts(client, owner, enrol):
    enrol("sms")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        password_step(client, owner)
        for n in range(services.OTP_FAILURE_LIMIT + 1):
            response = verify(client, f"wrong-{n:04d}", method="backup", follow=True)
        assert "Too many wrong codes. No code is accepted for the next 30 minutes; then try again." in page(response)
        traveller.shift(timedelta(minutes=10, seconds=30))
        response = client.post(
            "/accounts/login/", {"username": owner.email, "password": "Correct-Horse-42"}, follow=True
        )
        assert "No code is accepted for the next 20 minutes" in page(response)


def test_the_sms_cap_says_when_another_code_can_be_asked_for(owner, enrol):
    device = enrol("sms")
    with time_machine.travel(ON_THE_HOUR, tick=False) as traveller:  # 10:00:05
        for _ in range(5):
            services.otp_sms_send(device_id=device.pk, challenge="c", context=AuditContext(ip="127.0.0.1"))
            traveller.shift(31)
        with pytest.raises(ApplicationError) as refused:
            services.otp_sms_send(device_id=device.pk, challenge="c", context=AuditContext(ip="127.0.0.1"))
    # The hourly window ends at 11:00:00, 57 minutes 20 seconds after the sixth ask.
    assert "you can ask for another one in 58 minutes" in refused.value.detail
    assert refused.value.headers["Retry-After"] == str(3600 - 5 - 5 * 31)


# --- Enrolment confirmations ---------------------------------------------------------------------


def test_confirming_a_phone_tells_wrong_wait_and_expired_apart(client, owner):
    force_login_recent(client, owner)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post("/accounts/security/two-factor/sms/", {"phone": "+447911123456"})
        code = latest_sms_code("+447911123456")
        confirm = "/accounts/security/two-factor/sms/confirm/"
        assert "That code is not right. Check the latest SMS" in page(client.post(confirm, {"code": other(code)}))
        assert "wait 1 second, then enter the code again" in page(client.post(confirm, {"code": code}))
        traveller.shift(timedelta(minutes=5, seconds=1))
        assert "This code has expired" in page(client.post(confirm, {"code": code}))


def test_confirming_an_authenticator_tells_wrong_and_wait_apart(client, owner):
    force_login_recent(client, owner)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.get("/accounts/security/two-factor/app/")
        device = TOTPDevice.objects.get(user=owner, confirmed=False)
        app = "/accounts/security/two-factor/app/"
        assert "That code is not right" in page(client.post(app, {"code": other(totp_now(device))}))
        assert "wait 1 second, then enter the code again" in page(client.post(app, {"code": totp_now(device)}))
        traveller.shift(1)
        assert client.post(app, {"code": totp_now(device)}).status_code == 200  # the first backup codes
    device.refresh_from_db()
    assert device.confirmed


@pytest.fixture
def enrol(owner):
    """A confirmed second factor of `owner`: "sms" (the owner's phone) or "totp"."""

    def make(method: str):
        if method == "sms":
            return enrol_sms(owner)
        return TOTPDevice.objects.create(user=owner, name="Authenticator app", confirmed=True)

    return make
