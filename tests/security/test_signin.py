"""The code step of the sign-in: what ends a sign-in waiting for its code, the allowlist at that
step, and the lock after too many wrong codes."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from members.services import user_deactivate
from messaging.models import Message
from security import services
from security.models import IPAllowlistEntry
from tests.conftest import PASSWORD, enrol_sms, latest_sms_code

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
VERIFY = "/accounts/login/verify/"
NEW_PASSWORD = "Another-Horse-77"
OFFICE, ELSEWHERE = "203.0.113.5", "198.51.100.9"


def at_second_step(client, owner, **extra) -> str:
    """The password step done in `client`; the code the SMS brought."""
    response = client.post(LOGIN, {"username": owner.email, "password": PASSWORD}, **extra)
    assert response.status_code == 302
    assert response.url == VERIFY
    return latest_sms_code(owner.phone)


def verify(client, code: str, method: str = "sms", **extra):
    return client.post(VERIFY, {"method": method, "code": code}, **extra)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- What ends a sign-in waiting for its code ---------------------------------------------------


def test_a_password_reset_ends_a_sign_in_waiting_for_its_code(client, owner):
    """Someone with the old password reaches the code step; the owner, alarmed by the code SMS,
    resets the password. The code that SMS brought must no longer sign anyone in."""
    enrol_sms(owner)
    code = at_second_step(client, owner)
    services.password_set(user=User.objects.get(pk=owner.pk), new_password=NEW_PASSWORD, reason="reset")
    response = verify(client, code)
    assert response.status_code == 302
    assert response.url == LOGIN
    assert not signed_in(client)
    assert services.PENDING_KEY not in client.session
    assert not AuditEvent.objects.filter(action="auth.login.success").exists()


def test_a_password_change_in_another_browser_ends_a_sign_in_waiting_for_its_code(client, owner):
    enrol_sms(owner)
    code = at_second_step(client, owner)
    owners_browser = client.__class__()
    owners_browser.force_login(owner)
    response = owners_browser.post(
        "/accounts/security/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    verify(client, code)
    assert not signed_in(client)


def test_log_out_of_all_devices_ends_a_sign_in_waiting_for_its_code(client, owner):
    enrol_sms(owner)
    code = at_second_step(client, owner)
    owners_browser = client.__class__()
    owners_browser.force_login(owner)
    assert owners_browser.post("/accounts/security/sessions/end-others/").status_code == 302
    response = verify(client, code)
    assert response.url == LOGIN
    assert not signed_in(client)
    # Nor can the ended attempt ask for another code.
    client.post(VERIFY, {"action": "resend"})
    assert Message.objects.filter(recipient=owner.phone, sensitive=True).count() == 1


def test_ending_sessions_ends_waiting_sign_ins_of_that_user_only(client, owner, make_account):
    enrol_sms(owner)
    other = make_account(phone="+447400900456").memberships.get().user
    enrol_sms(other)
    code = at_second_step(client, owner)
    services.sessions_end(user=other)
    verify(client, code)
    assert signed_in(client)


def test_a_sign_in_started_after_the_sessions_ended_completes(client, owner):
    enrol_sms(owner)
    services.sessions_end(user=owner)
    with time_machine.travel(timezone.now() + timedelta(seconds=1)):
        code = at_second_step(client, owner)
        verify(client, code)
    assert signed_in(client)


def test_the_mark_of_ended_sessions_outlives_any_waiting_sign_in(owner, settings):
    services.sessions_end(user=owner)
    assert cache.ttl(f"sessions-ended:{owner.pk}") > settings.SIGN_IN_PENDING_MAX_AGE.total_seconds()


def test_deactivating_a_user_ends_a_sign_in_waiting_for_its_code(client, owner):
    enrol_sms(owner)
    code = at_second_step(client, owner)
    user_deactivate(user=owner, actor=None)
    User.objects.filter(pk=owner.pk).update(is_active=True)  # even if it were undone at once
    verify(client, code)
    assert not signed_in(client)


# --- The portal allowlist at the code step ------------------------------------------------------


@pytest.fixture
def office_only(owner):
    enrol_sms(owner)
    account = owner.membership.account
    IPAllowlistEntry.objects.create(account=account, scope="portal", network="203.0.113.0/24")
    services.ip_allowlist_changed(account.pk, "portal")
    return account


def test_the_code_step_from_a_refused_address_does_not_sign_in(client, owner, office_only):
    code = at_second_step(client, owner, REMOTE_ADDR=OFFICE)
    response = verify(client, code, REMOTE_ADDR=ELSEWHERE)
    assert response.status_code == 403
    assert 'data-testid="ip-refused"' in response.content.decode()
    assert not signed_in(client)
    assert not AuditEvent.objects.filter(action="auth.login.success").exists()
    refused = AuditEvent.objects.get(action="security.ip_refused")
    assert (refused.ip, refused.actor, refused.data) == (ELSEWHERE, owner, {"scope": "portal"})
    # The attempt is over: the same code from the office does not finish it either.
    verify(client, code, REMOTE_ADDR=OFFICE)
    assert not signed_in(client)


def test_the_code_step_from_an_allowed_address_signs_in(client, owner, office_only):
    code = at_second_step(client, owner, REMOTE_ADDR=OFFICE)
    verify(client, code, REMOTE_ADDR="203.0.113.77")
    assert signed_in(client)


def test_no_new_code_is_sent_to_a_refused_address(client, owner, office_only):
    at_second_step(client, owner, REMOTE_ADDR=OFFICE)
    with time_machine.travel(timezone.now() + timedelta(seconds=40)):  # past the resend cooldown
        response = client.post(VERIFY, {"action": "resend"}, REMOTE_ADDR=ELSEWHERE)
    assert response.status_code == 403
    assert Message.objects.filter(recipient=owner.phone, sensitive=True).count() == 1
    assert AuditEvent.objects.filter(action="security.ip_refused", ip=ELSEWHERE).exists()


# --- The lock after too many wrong codes --------------------------------------------------------


def fail_codes(client, count: int, **extra):
    response = None
    for n in range(count):
        response = verify(client, f"wrong-{n:04d}", method="backup", **extra)
    return response


def test_after_too_many_wrong_codes_even_the_right_code_is_refused(client, owner):
    enrol_sms(owner)
    codes = services.backup_codes_regenerate(user=owner)
    at_second_step(client, owner)
    response = fail_codes(client, services.OTP_FAILURE_LIMIT + 1)
    assert response.status_code == 302
    assert response.url == LOGIN

    # The password step works (axes never saw these failures), the code step stays locked.
    at_second_step(client, owner)
    response = verify(client, codes[0], method="backup", follow=True)
    assert not signed_in(client)
    assert services.OTP_LOCKED_MESSAGE in response.content.decode()
    assert services.backup_codes_left(owner) == 10  # the right code was not even looked at


def test_the_codes_below_the_cap_leave_the_right_code_working(client, owner):
    enrol_sms(owner)
    codes = services.backup_codes_regenerate(user=owner)
    at_second_step(client, owner)
    response = fail_codes(client, services.OTP_FAILURE_LIMIT)
    assert response.status_code == 200
    verify(client, codes[0], method="backup")
    assert signed_in(client)


def test_the_lock_is_audited_and_mailed_once_and_lasts_thirty_minutes(
    client, make_account, mailoutbox, django_capture_on_commit_callbacks
):
    owner = make_account(email="boss@example.com").memberships.get().user
    enrol_sms(owner)
    with django_capture_on_commit_callbacks(execute=True):
        at_second_step(client, owner, REMOTE_ADDR="192.0.2.44")
        fail_codes(client, services.OTP_FAILURE_LIMIT + 1, REMOTE_ADDR="192.0.2.44")
        at_second_step(client, owner, REMOTE_ADDR="192.0.2.44")
        fail_codes(client, 3, REMOTE_ADDR="192.0.2.44")
    [locked] = AuditEvent.objects.filter(action="2fa.locked")
    assert (locked.actor, locked.ip) == (owner, "192.0.2.44")
    assert [mail.to for mail in mailoutbox if "locked" in mail.subject] == [["boss@example.com"]]
    assert 0 < cache.ttl(f"2fa-locked:{owner.pk}") <= services.OTP_FAILURE_WINDOW_SECONDS


def test_a_locked_code_step_sends_no_code(client, owner):
    enrol_sms(owner)
    at_second_step(client, owner)
    fail_codes(client, services.OTP_FAILURE_LIMIT + 1)
    sent = Message.objects.filter(recipient=owner.phone, sensitive=True).count()
    with time_machine.travel(timezone.now() + timedelta(seconds=40)):  # past the resend cooldown
        response = client.post(LOGIN, {"username": owner.email, "password": PASSWORD}, follow=True)
        assert services.OTP_LOCKED_MESSAGE in response.content.decode()
        client.post(VERIFY, {"action": "resend"})
    assert Message.objects.filter(recipient=owner.phone, sensitive=True).count() == sent


def test_a_nul_byte_in_the_sign_in_email_gets_the_form_again_and_is_audited(db):
    """Once a 500: the failed sign-in was looked up with the raw value."""
    r = Client(raise_request_exception=False).post(LOGIN, {"username": "a@example.com\x00", "password": "x"})
    assert r.status_code == 200  # the form again
    assert AuditEvent.objects.filter(action="auth.login.failed", data__email="a@example.com").exists()


def test_a_password_typed_into_the_e_mail_field_is_not_stored_in_the_audit_log(db, owner):
    client = Client()
    client.post(LOGIN, {"username": "Correct-Horse-42-secret", "password": "x"})
    client.post(LOGIN, {"username": "nobody@example.com", "password": "x"})  # shaped like an address: kept
    client.post(LOGIN, {"username": owner.email.upper(), "password": "wrong"})
    recorded = list(
        AuditEvent.objects.filter(action="auth.login.failed").order_by("id").values_list("data__email", flat=True)
    )
    assert recorded == ["[not an e-mail address]", "nobody@example.com", owner.email]
