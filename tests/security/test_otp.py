import re
import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.forms.models import model_to_dict
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from audit.context import AuditContext
from audit.models import AuditEvent
from core.errors import ApplicationError
from messaging.models import LedgerEntry, Message
from security import services
from security.models import BackupCode, SMSDevice, UserSession
from security.services import otp as otp_services
from security.session_store import SessionStore
from tests.conftest import PASSWORD, enrol_sms, force_login_recent, latest_sms_code, run_concurrently

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
VERIFY = "/accounts/login/verify/"
# The start of an hour, so the hourly counters (fixed windows) do not roll over mid-test.
ON_THE_HOUR = datetime(2031, 3, 4, 10, 0, 5, tzinfo=UTC)


def locked(device: SMSDevice) -> SMSDevice:
    return SMSDevice.objects.select_for_update().get(pk=device.pk)


def totp_now(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def password_step(client, user: User, password: str = PASSWORD, **extra):
    response = client.post(LOGIN, {"username": user.email, "password": password}, **extra)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response.url == VERIFY
    return response


def verify(client, code: str, method: str = "sms", **extra):
    return client.post(VERIFY, {"method": method, "code": code}, **extra)


# --- SMS codes (services) ---------------------------------------------------------------------


def test_the_code_is_six_digits_and_stored_only_as_a_hash(owner, rf):
    device = enrol_sms(owner)
    services.otp_sms_send(device_id=device.pk, challenge="attempt-1", context=AuditContext(ip="127.0.0.1"))
    code = latest_sms_code(owner.phone)
    assert len(code) == 6
    assert code.isdigit()
    device.refresh_from_db()
    row = " ".join(str(value) for value in model_to_dict(device).values())
    assert device.token
    assert code not in row
    assert abs(device.valid_until - device.last_generated_timestamp - timedelta(minutes=5)) < timedelta(seconds=1)


def test_the_code_is_valid_for_five_minutes(owner):
    device = enrol_sms(owner)
    code = device.new_code(challenge="c")
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        assert not locked(device).check_code(code, challenge="c")
    code = device.new_code(challenge="c")
    with time_machine.travel(timezone.now() + timedelta(minutes=4, seconds=50)):
        assert locked(device).check_code(code, challenge="c")


def test_the_code_works_once(owner):
    device = enrol_sms(owner)
    code = device.new_code(challenge="c")
    assert locked(device).check_code(code, challenge="c")
    assert not locked(device).check_code(code, challenge="c")
    assert "already used" in otp_services.sms_check(locked(device), code, challenge="c").detail


def test_the_code_is_bound_to_its_sign_in_attempt(owner):
    device = enrol_sms(owner)
    code = device.new_code(challenge="attempt-1")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert not locked(device).check_code(code, challenge="attempt-2")
        assert not locked(device).check_code(code, challenge="")
        traveller.shift(5)  # past the throttle's pause after a failure
        assert locked(device).check_code(code, challenge="attempt-1")


def test_five_wrong_codes_kill_the_code(owner):
    device = enrol_sms(owner)
    code = device.new_code(challenge="c")
    wrong = "000000" if code != "000000" else "111111"
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            assert not locked(device).check_code(wrong, challenge="c")
            traveller.shift(20)  # each failure doubles the pause: 1, 2, 4, 8, 16 s
        device = locked(device)
        assert device.code_failures == 5
        assert device.token is None
        assert not device.check_code(code, challenge="c")
        assert "Too many wrong codes" in otp_services.sms_check(device, code, challenge="c").detail
        # A new code works again.
        traveller.shift(20)
        fresh = device.new_code(challenge="c")
        assert locked(device).check_code(fresh, challenge="c")


def test_verification_is_throttled_right_after_a_failure(owner):
    device = enrol_sms(owner)
    code = device.new_code(challenge="c")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert not locked(device).check_code("000000" if code != "000000" else "111111", challenge="c")
        assert not locked(device).check_code(code, challenge="c")  # too soon: not even checked
        traveller.shift(2)
        assert locked(device).check_code(code, challenge="c")


def test_a_new_code_can_be_sent_once_every_30_seconds(owner, rf):
    device = enrol_sms(owner)
    request = rf.get("/")
    with time_machine.travel(ON_THE_HOUR, tick=False) as traveller:
        services.otp_sms_send(device_id=device.pk, challenge="c", context=AuditContext.from_request(request))
        first = latest_sms_code(owner.phone)
        traveller.shift(29)
        with pytest.raises(ApplicationError) as excinfo:
            services.otp_sms_send(device_id=device.pk, challenge="c", context=AuditContext.from_request(request))
        assert excinfo.value.status == 429
        assert excinfo.value.code == "otp_cooldown"
        # The refused resend did not replace the code.
        assert locked(device).check_code(first, challenge="c")
        traveller.shift(2)
        services.otp_sms_send(device_id=device.pk, challenge="c", context=AuditContext.from_request(request))
    assert Message.objects.filter(submitted_by=owner).count() == 2


def test_at_most_five_codes_an_hour_per_user(owner, rf):
    device = enrol_sms(owner)
    with time_machine.travel(ON_THE_HOUR, tick=False) as traveller:
        for _ in range(5):
            services.otp_sms_send(device_id=device.pk, challenge="c", context=AuditContext(ip="127.0.0.1"))
            traveller.shift(31)
        with pytest.raises(ApplicationError) as excinfo:
            services.otp_sms_send(device_id=device.pk, challenge="c", context=AuditContext(ip="127.0.0.1"))
        assert excinfo.value.status == 429
        assert excinfo.value.code == "otp_rate_limited"
    assert Message.objects.filter(submitted_by=owner).count() == 5


def test_codes_to_one_phone_are_capped_across_users(make_account, rf):
    first = make_account(phone="+447400900555").memberships.get().user
    second = make_account(phone="+447400900555").memberships.get().user
    devices = [enrol_sms(first), enrol_sms(second)]
    with time_machine.travel(ON_THE_HOUR, tick=False) as traveller:
        for n in range(5):
            services.otp_sms_send(device_id=devices[n % 2].pk, challenge="c", context=AuditContext(ip="127.0.0.1"))
            traveller.shift(31)
        with pytest.raises(ApplicationError) as excinfo:
            services.otp_sms_send(device_id=devices[1].pk, challenge="c", context=AuditContext(ip="127.0.0.1"))
    assert excinfo.value.status == 429
    assert excinfo.value.code == "otp_rate_limited"
    assert Message.objects.filter(recipient="+447400900555").count() == 5


def test_codes_from_one_address_are_capped_across_users(make_account, rf, settings):
    settings.OTP_SMS_PER_IP_PER_HOUR = 3
    users = [make_account(phone=f"+44740090010{n}").memberships.get().user for n in range(5)]
    devices = [enrol_sms(user) for user in users]
    with time_machine.travel(ON_THE_HOUR, tick=False):
        for device in devices[:3]:
            services.otp_sms_send(device_id=device.pk, challenge="c", context=AuditContext(ip="192.0.2.50"))
        with pytest.raises(ApplicationError) as excinfo:
            services.otp_sms_send(device_id=devices[3].pk, challenge="c", context=AuditContext(ip="192.0.2.50"))
        assert excinfo.value.status == 429
        # Another address is not affected.
        services.otp_sms_send(device_id=devices[4].pk, challenge="c", context=AuditContext(ip="192.0.2.51"))


def test_the_code_sms_is_a_free_system_message(owner, rf, django_capture_on_commit_callbacks):
    account = owner.membership.account
    balance = account.balance
    entries = LedgerEntry.objects.filter(account=account).count()
    device = enrol_sms(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        services.otp_sms_send(device_id=device.pk, challenge="c", context=AuditContext(ip="127.0.0.1"))
    assert len(callbacks) == 1  # delivery is queued after the commit, with the message id only
    message = Message.objects.get(submitted_by=owner)
    assert message.is_system
    assert message.sensitive
    assert message.cost == 0
    assert message.recipient == owner.phone
    account.refresh_from_db()
    assert account.balance == balance
    assert LedgerEntry.objects.filter(account=account).count() == entries


# --- The two-step sign-in ---------------------------------------------------------------------


def test_the_session_is_signed_in_only_after_the_code(client, owner):
    enrol_sms(owner)
    first_key = client.session.session_key
    password_step(client, owner)
    pending_key = client.session.session_key
    assert pending_key != first_key
    assert "_auth_user_id" not in client.session
    for url in ("/", "/accounts/security/", "/accounts/security/two-factor/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login/" in response.url, url
    response = verify(client, latest_sms_code(owner.phone))
    assert response.status_code == 302
    assert response.url == "/"
    signed_in_key = client.session.session_key
    assert signed_in_key not in (first_key, pending_key)
    assert client.get("/").status_code == 200
    assert client.get("/accounts/security/").status_code == 200
    assert not UserSession.objects.filter(session_key__in=[first_key, pending_key]).exists()
    assert UserSession.objects.get(session_key=signed_in_key).user == owner
    assert AuditEvent.objects.filter(action="auth.login.success", actor=owner).count() == 1


def test_a_wrong_code_keeps_the_session_signed_out(client, owner):
    enrol_sms(owner)
    password_step(client, owner)
    code = latest_sms_code(owner.phone)
    response = verify(client, "000000" if code != "000000" else "111111")
    assert response.status_code == 200
    assert "not right" in response.content.decode()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="2fa.failed", actor=owner).exists()


def test_five_wrong_codes_at_sign_in_kill_the_code(client, owner):
    device = enrol_sms(owner)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        password_step(client, owner)
        code = latest_sms_code(owner.phone)
        for _ in range(5):
            response = verify(client, "000000" if code != "000000" else "111111")
            assert response.status_code == 200
            traveller.shift(20)  # past the pause after each failure
        assert "Too many wrong codes" in response.content.decode()
        # The failures were kept (not rolled back with the refusal): the right code is dead now.
        device.refresh_from_db()
        assert device.code_failures == 5
        assert device.token is None
        assert verify(client, code).status_code == 200
        assert client.get("/").status_code == 302
        # A new code, asked for on the same page, works.
        client.post(VERIFY, {"action": "resend"})
        assert verify(client, latest_sms_code(owner.phone)).status_code == 302
        assert client.get("/").status_code == 200


def test_a_code_from_another_sign_in_attempt_does_not_work(client, owner):
    enrol_sms(owner)
    other = client.__class__()
    password_step(other, owner)
    code_for_other = latest_sms_code(owner.phone)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        password_step(client, owner)
        # The code that arrived for the other browser's attempt is not this attempt's code.
        response = verify(client, code_for_other)
        assert response.status_code == 200
        assert client.get("/").status_code == 302


def test_the_verify_step_without_a_password_step_goes_back_to_sign_in(client, owner):
    enrol_sms(owner)
    response = verify(client, "123456")
    assert response.status_code == 302
    assert response.url == LOGIN


def test_the_pending_sign_in_expires(client, owner):
    enrol_sms(owner)
    password_step(client, owner)
    code = latest_sms_code(owner.phone)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = verify(client, code)
        assert response.status_code == 302
        assert response.url == LOGIN
        assert client.get("/").status_code == 302


def ten_racing_verifications(user, *, method: str, code: str, same_address: bool) -> list[str]:
    """Ten sign-ins of `user`, each past its password step, submit `code` at the same moment:
    what each one ends with ("signed-in" or the refusal's code)."""
    from django.test import RequestFactory

    pending = {
        "user_id": user.pk,
        "backend": "security.backends.AccountBackend",
        "started": timezone.now().isoformat(),
        "auth_hash": user.get_session_auth_hash(),
        "challenge": "attempt",
        "method": method,
    }
    barrier = threading.Barrier(10)

    def attempt(n: int) -> str:
        request = RequestFactory().post(VERIFY, REMOTE_ADDR="192.0.2.1" if same_address else f"192.0.2.{n + 1}")
        request.user = AnonymousUser()
        request.session = SessionStore()
        request.session[services.PENDING_KEY] = dict(pending)
        barrier.wait(timeout=10)
        try:
            services.sign_in_verify(request=request, method=method, code=code)
        except ApplicationError as exc:
            return exc.code
        return "signed-in"

    return run_concurrently(*(partial(attempt, n) for n in range(10)))


@pytest.mark.django_db(transaction=True)
def test_ten_threads_verifying_the_same_code_exactly_one_succeeds(make_account):
    user = make_account().memberships.get().user
    device = enrol_sms(user)
    code = device.new_code(challenge="attempt")
    results = ten_racing_verifications(user, method="sms", code=code, same_address=False)
    assert results.count("signed-in") == 1
    assert results.count("otp_expired") == 9  # the code was used: "already used", not "wrong"
    assert AuditEvent.objects.filter(action="auth.login.success", actor=user).count() == 1
    assert SMSDevice.objects.get(pk=device.pk).token is None


@pytest.mark.django_db(transaction=True)
def test_ten_threads_using_the_same_backup_code_exactly_one_succeeds(make_account):
    user = make_account().memberships.get().user
    enrol_sms(user)
    [code, *_] = services.backup_codes_regenerate(user=user)
    results = ten_racing_verifications(user, method="backup", code=code, same_address=True)
    assert results.count("signed-in") == 1
    assert results.count("otp_expired") == 9  # the code was used: "already used", not "wrong"
    assert services.backup_codes_left(user) == 9


# --- Backup codes -----------------------------------------------------------------------------


def test_ten_backup_codes_stored_hashed(owner):
    codes = services.backup_codes_regenerate(user=owner)
    assert len(codes) == len(set(codes)) == 10
    stored = list(BackupCode.objects.filter(device__user=owner).values_list("code_hash", flat=True))
    assert len(stored) == 10
    for code in codes:
        assert not any(code in value or code.replace("-", "") in value for value in stored)
    assert services.backup_codes_left(owner) == 10


def test_each_backup_code_works_once(client, owner):
    enrol_sms(owner)
    codes = services.backup_codes_regenerate(user=owner)
    with time_machine.travel(ON_THE_HOUR, tick=False) as traveller:
        password_step(client, owner)
        response = verify(client, codes[0].upper(), method="backup")
        assert response.status_code == 302
        assert client.get("/").status_code == 200
        assert services.backup_codes_left(owner) == 9
        assert AuditEvent.objects.filter(action="2fa.backup_code_used", actor=owner).exists()
        client.post("/accounts/logout/")

        traveller.shift(31)
        password_step(client, owner)
        response = verify(client, codes[0], method="backup")
        assert response.status_code == 200
        assert "already used" in response.content.decode()
        assert client.get("/").status_code == 302
        assert verify(client, codes[1], method="backup").status_code == 302
        assert client.get("/").status_code == 200
    assert services.backup_codes_left(owner) == 8


def test_new_backup_codes_replace_the_old_ones(client, owner):
    enrol_sms(owner)
    old = services.backup_codes_regenerate(user=owner)
    new = services.backup_codes_regenerate(user=owner)
    assert not set(old) & set(new)
    assert services.backup_codes_left(owner) == 10
    password_step(client, owner)
    assert verify(client, old[0], method="backup").status_code == 200
    assert client.get("/").status_code == 302
    assert verify(client, new[0], method="backup").status_code == 302
    assert client.get("/").status_code == 200


def test_regenerating_backup_codes_on_the_page_shows_ten_new_ones(client, owner):
    enrol_sms(owner)
    old = services.backup_codes_regenerate(user=owner)
    force_login_recent(client, owner)
    assert client.get("/accounts/security/two-factor/backup-codes/").status_code == 200
    assert services.backup_codes_left(owner) == 10  # asking is not making
    response = client.post("/accounts/security/two-factor/backup-codes/")
    assert response.status_code == 200
    shown = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", response.content.decode())
    assert len(shown) == 10
    assert not set(shown) & set(old)
    assert services.backup_codes_left(owner) == 10


# --- Authenticator app (TOTP) -----------------------------------------------------------------


def test_authenticator_enrolment_and_sign_in(client, owner):
    force_login_recent(client, owner)
    response = client.get("/accounts/security/two-factor/app/")
    assert response.status_code == 200
    assert "<svg" in response.content.decode()
    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    response = client.post("/accounts/security/two-factor/app/", {"code": "000000"})
    assert "not right" in response.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        device.refresh_from_db()
        response = client.post("/accounts/security/two-factor/app/", {"code": totp_now(device)})
    assert response.status_code == 200  # the backup codes, shown once
    assert services.backup_codes_left(owner) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(action="2fa.enrolled", actor=owner, data__method="totp").exists()
    client.post("/accounts/logout/")

    with time_machine.travel(timezone.now() + timedelta(seconds=60)):
        password_step(client, owner)
        device.refresh_from_db()
        code = totp_now(device)
        assert verify(client, code, method="totp").status_code == 302
        assert client.get("/").status_code == 200
        client.post("/accounts/logout/")
        # The same code again, in the same 30 seconds: replayed, refused.
        password_step(client, owner)
        assert verify(client, code, method="totp").status_code == 200
        assert client.get("/").status_code == 302


def test_a_wrong_authenticator_code_pauses_the_next_try(client, owner):
    device = TOTPDevice.objects.create(user=owner, name="Authenticator app", confirmed=True)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        password_step(client, owner)
        right = totp_now(device)
        assert verify(client, f"{(int(right) + 1) % 10**6:06d}", method="totp").status_code == 200
        device.refresh_from_db()
        assert device.throttling_failure_count == 1  # kept, not rolled back with the refusal
        assert verify(client, right, method="totp").status_code == 200  # too soon after a failure
        traveller.shift(2)
        assert verify(client, totp_now(device), method="totp").status_code == 302
    assert client.get("/").status_code == 200


# --- Changing and turning off 2FA -------------------------------------------------------------


def test_turning_off_two_factor_removes_every_second_factor(client, owner):
    enrol_sms(owner)
    TOTPDevice.objects.create(user=owner, name="Authenticator app", confirmed=True)
    services.backup_codes_regenerate(user=owner)
    force_login_recent(client, owner)
    assert client.get("/accounts/security/two-factor/disable/").status_code == 200
    assert SMSDevice.objects.filter(user=owner).exists()
    response = client.post("/accounts/security/two-factor/disable/")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert not SMSDevice.objects.filter(user=owner).exists()
    assert services.backup_codes_left(owner) == 0
    assert AuditEvent.objects.filter(action="2fa.disabled", actor=owner).exists()


def test_two_factor_cannot_be_turned_off_when_the_account_requires_it(owner, rf):
    enrol_sms(owner)
    account = owner.membership.account
    account.require_2fa = True
    account.save(update_fields=["require_2fa"])
    owner.refresh_from_db()
    with pytest.raises(ApplicationError) as excinfo:
        services.two_factor_disable(user=owner, context=AuditContext(ip="127.0.0.1"))
    assert excinfo.value.code == "two_factor_required"
    assert SMSDevice.objects.filter(user=owner, confirmed=True).exists()


def test_a_new_phone_replaces_the_old_one_only_once_confirmed(owner, rf):
    device = enrol_sms(owner)
    request = rf.post("/")
    new = services.sms_device_start(
        user=owner,
        phone="+44 7911 123456",
        challenge="c",
        context=AuditContext.from_request(request),
    )
    assert new.phone == "+447911123456"
    assert not new.confirmed
    # Until the new phone is confirmed, the old one stays in use.
    assert SMSDevice.objects.get(user=owner, confirmed=True) == device
    services.sms_device_confirm(
        user=owner,
        device_id=new.pk,
        code=latest_sms_code("+447911123456"),
        challenge="c",
        context=AuditContext.from_request(request),
    )
    assert list(SMSDevice.objects.filter(user=owner).values_list("phone", "confirmed")) == [("+447911123456", True)]
    owner.refresh_from_db()
    assert owner.phone == "+447911123456"


def test_sms_enrolment_through_the_pages(client, owner):
    force_login_recent(client, owner)
    response = client.post("/accounts/security/two-factor/sms/", {"phone": "not a number"})
    assert response.status_code == 200
    assert not SMSDevice.objects.exists()
    response = client.post("/accounts/security/two-factor/sms/", {"phone": "+44 7911 123456"})
    assert response.status_code == 302
    assert response.url == "/accounts/security/two-factor/sms/confirm/"
    response = client.post(response.url, {"code": latest_sms_code("+447911123456")})
    assert response.status_code == 200  # the first backup codes
    assert SMSDevice.objects.get(user=owner).confirmed
    assert services.backup_codes_left(owner) == 10


def test_the_first_backup_codes_after_sms_enrolment_are_never_cached(client, owner):
    """As on the authenticator-app path and the regenerate page: no copy in any cache."""
    client.post(LOGIN, {"username": owner.email, "password": PASSWORD})
    client.post("/accounts/security/two-factor/sms/", {"phone": "+447400123456"})
    response = client.post("/accounts/security/two-factor/sms/confirm/", {"code": latest_sms_code("+447400123456")})
    assert response.status_code == 200
    assert 'data-testid="backup-codes"' in response.content.decode()
    assert "no-store" in response["Cache-Control"]


# --- Who must use 2FA -------------------------------------------------------------------------


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user(
        "staff@example.com", PASSWORD, is_staff=True, is_superuser=True, phone="+447700900777"
    )


def test_staff_without_a_second_factor_cannot_reach_the_admin(client, staff):
    response = client.post(LOGIN, {"username": staff.email, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url == "/accounts/security/two-factor/"


def test_staff_with_an_unverified_session_cannot_reach_the_admin(client, staff):
    enrol_sms(staff)
    client.force_login(staff)  # a session that never passed the second step
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login/" in response.url
    assert client.get("/admin/").status_code == 302


def test_staff_reach_the_admin_after_the_second_step(client, staff):
    enrol_sms(staff)
    response = client.post(LOGIN, {"username": staff.email, "password": PASSWORD, "next": "/admin/"})
    assert response.url == VERIFY
    response = verify(client, latest_sms_code(staff.phone))
    assert response.status_code == 302
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_user_of_an_account_requiring_2fa_is_confined_to_enrolment(client, owner):
    account = owner.membership.account
    account.require_2fa = True
    account.save(update_fields=["require_2fa"])
    response = client.post(LOGIN, {"username": owner.email, "password": PASSWORD})
    assert response.status_code == 302
    for url in ("/", "/accounts/security/", "/accounts/security/audit/", "/messages/test-sms/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url == "/accounts/security/two-factor/", url
    assert client.get("/accounts/security/two-factor/").status_code == 200
    assert client.get("/accounts/security/two-factor/sms/").status_code == 200
    response = client.post("/accounts/security/two-factor/sms/", {"phone": "+447911123456"})
    confined_key = client.session.session_key
    response = client.post(response.url, {"code": latest_sms_code("+447911123456")})
    assert response.status_code == 200
    assert client.get("/").status_code == 200
    # The verified session has a new key; the confined one's key opens nothing.
    assert client.session.session_key != confined_key
    assert not UserSession.objects.filter(session_key=confined_key).exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = confined_key
    assert client.get("/").status_code == 302


def test_a_session_from_before_the_2fa_requirement_must_sign_in_again(client, owner):
    enrol_sms(owner)
    client.force_login(owner)
    assert client.get("/").status_code == 200  # the user has not been required 2FA so far
    account = owner.membership.account
    account.require_2fa = True
    account.save(update_fields=["require_2fa"])
    response = client.get("/")
    assert response.status_code == 302
    assert "/login/" in response.url
    assert "_auth_user_id" not in client.session


def test_a_try_during_the_pause_after_a_wrong_code_says_wait_not_wrong(owner):
    from security.models import SMSDevice
    from security.services.otp import sms_check

    device = SMSDevice.objects.create(user=owner, name="SMS", phone="+447911123456", confirmed=True)
    code = device.new_code(challenge="c")
    assert not device.check_code("000000" if code != "000000" else "111111", challenge="c")
    assert sms_check(device, code, challenge="c").detail.startswith("Too many tries in a row")  # within the pause


def test_the_authenticator_and_backup_code_pages_are_never_cached(client, owner):
    force_login_recent(client, owner)
    r1 = client.get("/accounts/security/two-factor/app/")
    r2 = client.post("/accounts/security/two-factor/backup-codes/")
    assert "no-store" in (r1.get("Cache-Control") or "")
    assert "no-store" in (r2.get("Cache-Control") or "")


def test_a_new_authenticator_replaces_the_working_one_once_confirmed(client, owner):
    old = TOTPDevice.objects.create(user=owner, name="old", confirmed=True)
    force_login_recent(client, owner)
    client.get("/accounts/security/two-factor/app/")
    new = TOTPDevice.objects.get(user=owner, confirmed=False)
    assert TOTPDevice.objects.get(pk=old.pk).confirmed  # the app in use works until the new one is confirmed
    code = f"{totp(new.bin_key):06d}"
    accepted = client.post("/accounts/security/two-factor/app/", {"code": code})
    assert accepted.status_code == 200  # the backup codes page, or a redirect to security
    assert TOTPDevice.objects.filter(user=owner, confirmed=True).get().pk == new.pk
