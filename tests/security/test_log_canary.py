"""Canary: the sign-in, second-factor and password flows leave no secret in any log.

Everything runs with the root logger (and axes' own) at DEBUG, with stdout and stderr captured
at the file-descriptor level, commit hooks executed and system SMS delivered in-process, so the
e-mail and SMS paths log whatever they would log in production.
"""

import re

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from tests.conftest import PASSWORD, latest_sms_code

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
VERIFY = "/accounts/login/verify/"
PHONE = "+447911123456"
WRONG = "Wrong-Canary-Pass-1"
CHANGED = "Changed-Canary-Pass-2"
RESET = "Reset-Canary-Pass-3"


def backup_codes_in(html: str) -> list[str]:
    return re.findall(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b", html)


def assert_nowhere(secrets: set[str], capture) -> None:
    haystacks = capture.texts()
    for where, text in haystacks.items():
        for secret in secrets:
            assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", text), (
                f"a secret ({secret[:2]}…) appears in {where}"
            )
    # Nor in what the application and axes store about attempts.
    stored = [
        *(repr((e.data, e.user_agent, e.object_repr)) for e in AuditEvent.objects.all()),
        *(f"{a.get_data} {a.post_data}" for a in AccessAttempt.objects.all()),
        *(repr(f.__dict__) for f in AccessFailureLog.objects.all()),
    ]
    for secret in secrets:
        assert not any(secret in row for row in stored), f"a secret ({secret[:2]}…) is stored in an audit row"


@pytest.fixture
def traveller():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def test_no_password_or_code_reaches_a_log(client, owner, capture_everything, traveller, mailoutbox):
    run = capture_everything
    secrets: set[str] = {PASSWORD, WRONG, CHANGED, RESET}

    # Password sign-in: a wrong password, then the right one.
    run(lambda: client.post(LOGIN, {"username": owner.email, "password": WRONG}))
    assert run(lambda: client.post(LOGIN, {"username": owner.email, "password": PASSWORD})).status_code == 302

    # SMS enrolment: phone, code, confirmation; the first backup codes are shown once.
    response = run(lambda: client.post("/accounts/security/two-factor/sms/", {"phone": PHONE}))
    assert response.status_code == 302
    code = latest_sms_code(PHONE)
    secrets.add(code)
    response = run(lambda: client.post("/accounts/security/two-factor/sms/confirm/", {"code": code}))
    backup_codes = backup_codes_in(response.content.decode())
    assert len(backup_codes) == 10
    secrets.update(backup_codes)
    secrets.update(c.replace("-", "") for c in backup_codes)
    run(lambda: client.post("/accounts/logout/"))

    # Sign-in with an SMS code, after a wrong code.
    traveller.shift(40)  # past the resend cooldown
    assert run(lambda: client.post(LOGIN, {"username": owner.email, "password": PASSWORD})).url == VERIFY
    code = latest_sms_code(PHONE)
    secrets.add(code)
    run(lambda: client.post(VERIFY, {"method": "sms", "code": "000000" if code != "000000" else "111111"}))
    traveller.shift(3)  # past the pause after a wrong code
    assert run(lambda: client.post(VERIFY, {"method": "sms", "code": code})).status_code == 302
    run(lambda: client.post("/accounts/logout/"))

    # Sign-in with a backup code; the same code again is refused.
    traveller.shift(40)
    run(lambda: client.post(LOGIN, {"username": owner.email, "password": PASSWORD}))
    secrets.add(latest_sms_code(PHONE))
    assert run(lambda: client.post(VERIFY, {"method": "backup", "code": backup_codes[0]})).status_code == 302
    run(lambda: client.post("/accounts/logout/"))
    traveller.shift(40)
    run(lambda: client.post(LOGIN, {"username": owner.email, "password": PASSWORD}))
    secrets.add(latest_sms_code(PHONE))
    assert run(lambda: client.post(VERIFY, {"method": "backup", "code": backup_codes[0]})).status_code == 200
    assert run(lambda: client.post(VERIFY, {"method": "backup", "code": backup_codes[1]})).status_code == 302

    # An authenticator app, enrolled and confirmed.
    run(lambda: client.get("/accounts/security/two-factor/app/"))
    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    secrets.add(device.key)
    totp_code = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
    secrets.add(totp_code)
    run(lambda: client.post("/accounts/security/two-factor/app/", {"code": totp_code}))
    assert TOTPDevice.objects.get(pk=device.pk).confirmed

    # Password change: a wrong old password, then the right one.
    change = "/accounts/security/password/"
    run(lambda: client.post(change, {"old_password": WRONG, "new_password1": CHANGED, "new_password2": CHANGED}))
    response = run(
        lambda: client.post(change, {"old_password": PASSWORD, "new_password1": CHANGED, "new_password2": CHANGED})
    )
    assert response.status_code == 302
    run(lambda: client.post("/accounts/logout/"))

    # Password reset by e-mail, with a refused (weak) password first.
    mailoutbox.clear()
    run(lambda: client.post("/accounts/password-reset/", {"email": owner.email}))
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mailoutbox[0].body).group(1)
    form_url = run(lambda: client.get(link)).url
    run(lambda: client.post(form_url, {"new_password1": "weakpass", "new_password2": "weakpass"}))
    assert run(lambda: client.post(form_url, {"new_password1": RESET, "new_password2": RESET})).status_code == 302

    # A lockout, with the password in the locked attempts.
    for _ in range(6):
        run(lambda: client.post(LOGIN, {"username": owner.email, "password": WRONG}))
    assert run(lambda: client.post(LOGIN, {"username": owner.email, "password": RESET})).status_code == 429

    assert_nowhere(secrets, capture_everything)
    # The e-mails the flows sent carry no secret either (the reset link is its own secret).
    for mail in mailoutbox:
        for secret in secrets:
            assert secret not in mail.body
