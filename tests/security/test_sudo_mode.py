"""Sudo mode (security/sudo.py): changing a second factor, making backup codes or turning 2FA off
needs an authentication at most SECURITY_SUDO_SECONDS old, not just a signed-in session; the
re-authentication page takes the password or the current second factor, counted like sign-in."""

from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from messaging.models import Message
from security import services
from security.models import SMSDevice
from tests.conftest import (
    PASSWORD,
    enrol_sms,
    latest_sms_code,
    past_the_sudo_window,
    sign_in_with_password,
)

pytestmark = pytest.mark.django_db

REAUTH = "/accounts/security/reauthenticate/"
SMS = "/accounts/security/two-factor/sms/"
SMS_CONFIRM = "/accounts/security/two-factor/sms/confirm/"
APP = "/accounts/security/two-factor/app/"
BACKUP = "/accounts/security/two-factor/backup-codes/"
DISABLE = "/accounts/security/two-factor/disable/"
NEW_PHONE = "+447911123456"


def totp_now(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def sent_to_reauthentication(response, path: str) -> bool:
    return response.status_code == 302 and response.url == f"{REAUTH}?next={quote(path, safe='')}"


def reauthenticate(client, *, method: str = "password", next_url: str = "/", **fields):
    data = {"method": method, "next": next_url, **(fields or {"password": PASSWORD})}
    return client.post(f"{REAUTH}?next={quote(next_url, safe='')}", data)


# Each protected action: (what the test sets up after signing in, the request, what it changed).
def _nothing(owner):
    return None


def _with_sms(owner):
    enrol_sms(owner)
    services.backup_codes_regenerate(user=owner)


def _sms_started(owner):
    SMSDevice.objects.create(user=owner, name="SMS", phone=NEW_PHONE, confirmed=False)


PROTECTED = {
    "sms first enrolment": (_nothing, "post", SMS, {"phone": NEW_PHONE}, lambda o: SMSDevice.objects.exists()),
    "sms phone change": (
        _with_sms,
        "post",
        SMS,
        {"phone": NEW_PHONE},
        lambda o: SMSDevice.objects.filter(phone=NEW_PHONE).exists(),
    ),
    "sms confirmation page": (_sms_started, "get", SMS_CONFIRM, None, None),
    "authenticator enrolment": (_nothing, "get", APP, None, lambda o: TOTPDevice.objects.exists()),
    "backup codes page": (_with_sms, "get", BACKUP, None, None),
    "backup codes regeneration": (
        _with_sms,
        "post",
        BACKUP,
        {},
        lambda o: AuditEvent.objects.filter(action="2fa.backup_codes_generated").count() == 2,
    ),
    "turning 2fa off": (_with_sms, "post", DISABLE, {}, lambda o: not SMSDevice.objects.exists()),
}


@pytest.mark.parametrize("case", PROTECTED)
def test_a_protected_action_of_an_old_sign_in_is_sent_to_reauthenticate_then_works(client, owner, case):
    setup, method, path, data, changed = PROTECTED[case]
    sign_in_with_password(client, owner)
    setup(owner)
    with past_the_sudo_window():
        response = getattr(client, method)(path, data)
        assert sent_to_reauthentication(response, path)
        if changed is not None:
            assert not changed(owner)
        assert client.get(response.url).status_code == 200  # the page that asks

        back = reauthenticate(client, next_url=path)
        assert back.status_code == 302
        assert back.url == path
        response = getattr(client, method)(path, data)
        assert response.status_code in (200, 302)
        assert not (response.status_code == 302 and response.url.startswith(REAUTH))
        if changed is not None:
            assert changed(owner)


@pytest.mark.parametrize("case", PROTECTED)
def test_a_protected_action_within_the_window_of_the_sign_in_asks_nothing(client, owner, case):
    setup, method, path, data, changed = PROTECTED[case]
    sign_in_with_password(client, owner)
    setup(owner)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SECURITY_SUDO_SECONDS - 5), tick=False):
        response = getattr(client, method)(path, data)
    assert not (response.status_code == 302 and response.url.startswith(REAUTH))
    if changed is not None:
        assert changed(owner)


def test_a_first_sms_enrolment_by_an_old_session_is_refused(client, owner):
    """A stolen session cookie of a user without 2FA cannot put its own phone on the account."""
    sign_in_with_password(client, owner)
    with past_the_sudo_window():
        response = client.post(SMS, {"phone": NEW_PHONE})
        assert sent_to_reauthentication(response, SMS)
        assert not SMSDevice.objects.exists()
        assert not Message.objects.filter(recipient=NEW_PHONE).exists()
        # A device started while the session was fresh cannot be confirmed once it is not.
        SMSDevice.objects.create(user=owner, name="SMS", phone=NEW_PHONE, confirmed=False)
        assert sent_to_reauthentication(client.post(SMS_CONFIRM, {"code": "123456"}), SMS_CONFIRM)
    assert not SMSDevice.objects.filter(confirmed=True).exists()


def test_a_first_authenticator_enrolment_by_an_old_session_is_refused(client, owner):
    sign_in_with_password(client, owner)
    client.get(APP)  # while fresh: an unconfirmed app and its secret
    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    with past_the_sudo_window():
        response = client.get(APP)
        assert sent_to_reauthentication(response, APP)
        assert b"<svg" not in response.content  # no secret, no QR code
        response = client.post(APP, {"code": totp_now(device), "end_other_sessions": "on"})
        assert sent_to_reauthentication(response, APP)
    device.refresh_from_db()
    assert not device.confirmed
    assert services.backup_codes_left(owner) == 0


def test_a_sign_in_with_the_second_factor_counts_as_recent(client, owner):
    device = TOTPDevice.objects.create(user=owner, name="Authenticator app", confirmed=True)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD})
        assert client.get(BACKUP).status_code == 302  # not signed in yet: to the sign-in page
        assert client.post("/accounts/login/verify/", {"method": "totp", "code": totp_now(device)}).status_code == 302
        traveller.shift(settings.SECURITY_SUDO_SECONDS - 5)
        assert client.get(BACKUP).status_code == 200


# --- The re-authentication page ---------------------------------------------------------------


def test_reauthenticating_with_the_password_is_audited(client, owner):
    sign_in_with_password(client, owner)
    with past_the_sudo_window():
        wrong = reauthenticate(client, next_url=BACKUP, password="Wrong-Password-1")
        assert wrong.status_code == 200
        assert "That password is not right." in wrong.content.decode()
        assert client.get(BACKUP).status_code == 302
        right = reauthenticate(client, next_url=BACKUP)
        assert (right.status_code, right.url) == (302, BACKUP)
        assert client.get(BACKUP).status_code == 200
    assert list(
        AuditEvent.objects.filter(action__startswith="auth.reauth.").order_by("id").values_list("action", "data")
    ) == [("auth.reauth.failed", {"method": "password"}), ("auth.reauth.success", {"method": "password"})]


def test_reauthenticating_with_an_authenticator_code(client, owner):
    sign_in_with_password(client, owner)
    device = TOTPDevice.objects.create(user=owner, name="Authenticator app", confirmed=True)  # set up since
    with past_the_sudo_window():
        page = client.get(f"{REAUTH}?next={quote(BACKUP)}&method=totp").content.decode()
        assert "authenticator app shows now" in page
        wrong = reauthenticate(
            client, method="totp", next_url=BACKUP, code=f"{(int(totp_now(device)) + 1) % 10**6:06d}"
        )
        assert wrong.status_code == 200
        assert "That code is not right" in wrong.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SECURITY_SUDO_SECONDS + 10), tick=False):
        right = reauthenticate(client, method="totp", next_url=BACKUP, code=totp_now(device))
        assert (right.status_code, right.url) == (302, BACKUP)
        assert client.get(BACKUP).status_code == 200
    assert AuditEvent.objects.filter(action="auth.reauth.failed", data={"method": "totp"}).count() == 1
    assert AuditEvent.objects.filter(action="auth.reauth.success", data={"method": "totp"}).exists()


def test_reauthenticating_with_an_sms_code_bound_to_this_session(client, owner):
    sign_in_with_password(client, owner)
    enrol_sms(owner)
    with past_the_sudo_window():
        sent = client.post(f"{REAUTH}?next={quote(BACKUP)}&method=sms", {"action": "send", "next": BACKUP})
        assert sent.status_code == 302
        code = latest_sms_code(owner.phone)
        assert client.get(BACKUP).status_code == 302  # sending a code is not proving it
        right = reauthenticate(client, method="sms", next_url=BACKUP, code=code)
        assert (right.status_code, right.url) == (302, BACKUP)
        # Single use: the same code does not re-authenticate again.
        again = reauthenticate(client, method="sms", next_url=BACKUP, code=code)
        assert again.status_code == 200


def test_reauthenticating_with_a_backup_code_uses_it_up(client, owner):
    sign_in_with_password(client, owner)
    enrol_sms(owner)
    codes = services.backup_codes_regenerate(user=owner)
    with past_the_sudo_window():
        right = reauthenticate(client, method="backup", next_url=DISABLE, code=codes[0])
        assert (right.status_code, right.url) == (302, DISABLE)
    assert services.backup_codes_left(owner) == 9


def test_a_method_the_user_does_not_have_is_not_offered_nor_accepted(client, owner):
    sign_in_with_password(client, owner)
    with past_the_sudo_window():
        page = client.get(f"{REAUTH}?method=totp").content.decode()
        assert "Enter your password." in page
        assert "authenticator app" not in page
        response = reauthenticate(client, method="backup", code="abcde-fghjk")
        assert response.status_code == 200
        assert client.get(BACKUP).status_code == 302


def test_wrong_passwords_on_the_page_lock_out_like_sign_in(client, owner):
    sign_in_with_password(client, owner)
    with past_the_sudo_window():
        statuses = [reauthenticate(client, password="Wrong-Password-1").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 200]
        locked = reauthenticate(client, password="Wrong-Password-1")
        assert locked.status_code == 429
        assert 'data-testid="locked-out"' in locked.content.decode()
        # Locked: the right password is refused too, here and at sign-in from this address.
        assert reauthenticate(client).status_code == 429
        assert client.get(BACKUP).status_code == 302
    client.post("/accounts/logout/")
    response = client.post("/accounts/login/", {"username": owner.email, "password": PASSWORD})
    assert response.status_code == 429
    assert AuditEvent.objects.filter(action="auth.reauth.failed").count() >= 5
    assert AuditEvent.objects.filter(action="auth.lockout", actor=owner).exists()


def test_a_right_password_forgets_the_earlier_failures_as_a_sign_in_does(client, owner):
    sign_in_with_password(client, owner)
    with past_the_sudo_window():
        for _ in range(4):
            reauthenticate(client, password="Wrong-Password-1")
        assert reauthenticate(client).status_code == 302
        for _ in range(4):
            assert reauthenticate(client, password="Wrong-Password-1").status_code == 200


def test_wrong_codes_on_the_page_count_toward_the_sign_in_code_lock(client, owner):
    sign_in_with_password(client, owner)
    enrol_sms(owner)
    codes = services.backup_codes_regenerate(user=owner)
    with past_the_sudo_window():
        for n in range(services.OTP_FAILURE_LIMIT):
            response = reauthenticate(client, method="backup", code=f"wrong-{n:05d}")
            assert "not right" in response.content.decode()
        locked = reauthenticate(client, method="backup", code="wrong-one-more")
        assert services.OTP_LOCKED_MESSAGE in locked.content.decode()
        refused = reauthenticate(client, method="backup", code=codes[0])  # the right code, while locked
        assert refused.status_code == 200
        assert services.OTP_LOCKED_MESSAGE in refused.content.decode()
        assert client.get(BACKUP).status_code == 302
    assert services.second_step_locked(owner)  # the sign-in's code step is locked as well
    assert services.backup_codes_left(owner) == 10
    assert AuditEvent.objects.filter(action="2fa.locked", actor=owner).exists()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "http://testserver.evil/"])
def test_the_page_goes_back_only_to_this_site(client, owner, target):
    sign_in_with_password(client, owner)
    response = client.post(f"{REAUTH}?next={quote(target, safe='')}", {"method": "password", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/"


def test_the_page_is_never_cached_and_needs_a_sign_in(client, owner):
    response = client.get(f"{REAUTH}?next=/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    sign_in_with_password(client, owner)
    assert "no-store" in client.get(REAUTH)["Cache-Control"]


def test_a_user_confined_to_enrolment_reaches_the_page_and_enrols(client, owner):
    account = owner.membership.account
    account.require_2fa = True
    account.save(update_fields=["require_2fa"])
    sign_in_with_password(client, owner)
    with past_the_sudo_window():
        response = client.get(APP)
        assert sent_to_reauthentication(response, APP)
        assert client.get(response.url).status_code == 200
        assert reauthenticate(client, next_url=APP).url == APP
        assert b"<svg" in client.get(APP).content


# --- The owner hears of every change ----------------------------------------------------------


def security_changes(mailoutbox) -> list:
    return [mail for mail in mailoutbox if mail.subject.startswith("Security change")]


def test_the_owner_is_emailed_for_each_second_factor_change(
    client, owner, make_account, mailoutbox, django_capture_on_commit_callbacks
):
    from accounts.models import Membership, User

    sub = User.objects.create_user("sub@example.com", PASSWORD, phone="+447700900555")
    Membership.objects.create(user=sub, account=owner.membership.account, role="subuser")
    client.defaults["HTTP_USER_AGENT"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
    sign_in_with_password(client, sub)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SMS, {"phone": NEW_PHONE})
        client.post(SMS_CONFIRM, {"code": latest_sms_code(NEW_PHONE)})
        client.post(BACKUP)
        client.post(DISABLE)
    mails = security_changes(mailoutbox)
    assert [mail.to for mail in mails] == [[owner.email]] * 3
    assert [mail.subject for mail in mails] == [
        "Security change on your SMS Portal account: two-factor sign-in with codes by SMS to a phone number "
        "ending in 456 was set up",
        "Security change on your SMS Portal account: new backup codes were made (the earlier ones no longer work)",
        "Security change on your SMS Portal account: two-factor sign-in was turned off",
    ]
    assert "User: sub@example.com" in mails[0].body
    assert "IP address: 127.0.0.1" in mails[0].body
    assert "Firefox 128 on Linux" in mails[0].body
    # Another account's owner hears nothing.
    other = make_account().memberships.get().user
    assert not any(other.email in mail.to for mail in mailoutbox)
