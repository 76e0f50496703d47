import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ATTACKER = "203.0.113.9"
VICTIM_IP = "198.51.100.7"


def attempt(client, email: str, password: str, ip: str = ATTACKER, **extra):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip, **extra)


def fail(client, email: str, times: int, ip: str = ATTACKER, **extra) -> list[int]:
    return [attempt(client, email, "Wrong-Password-1", ip, **extra).status_code for _ in range(times)]


def is_locked_page(response) -> bool:
    return response.status_code == 429 and 'data-testid="locked-out"' in response.content.decode()


def test_five_wrong_passwords_lock_the_sign_in(client, owner):
    statuses = fail(client, owner.email, 5)
    assert statuses[:4] == [200, 200, 200, 200]
    response = attempt(client, owner.email, "Wrong-Password-1")
    assert is_locked_page(response)
    assert "30 minutes" in response.content.decode()


def test_a_correct_password_during_lockout_still_fails(client, owner):
    fail(client, owner.email, 5)
    response = attempt(client, owner.email, PASSWORD)
    assert is_locked_page(response)
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, owner):
    fail(client, owner.email, 5)
    with time_machine.travel(timezone.now() + timedelta(minutes=29)):
        assert is_locked_page(attempt(client, owner.email, PASSWORD))
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        response = attempt(client, owner.email, PASSWORD)
        assert response.status_code == 302
        assert client.get("/").status_code == 200


def test_the_lockout_is_per_user_and_address(client, make_account):
    victim = make_account().memberships.get().user
    bystander = make_account().memberships.get().user
    fail(client, victim.email, 5)
    # Same address, another user: not locked. Same user, another address: not locked either.
    assert attempt(client, bystander.email, PASSWORD).status_code == 302
    client.logout()
    assert attempt(client, victim.email, PASSWORD, ip=VICTIM_IP).status_code == 302


def test_the_email_case_does_not_reset_the_count(client, owner):
    fail(client, owner.email.upper(), 3)
    fail(client, owner.email, 2)
    assert is_locked_page(attempt(client, owner.email.title(), PASSWORD))


def test_the_per_user_cap_locks_across_addresses(client, owner, settings):
    settings.AXES_USER_FAILURE_CAP = 8
    # Four failures from each of two addresses: neither pair reaches 5, the user reaches 8.
    assert fail(client, owner.email, 4, ip="192.0.2.1") == [200] * 4
    statuses = fail(client, owner.email, 4, ip="192.0.2.2")
    assert statuses[:3] == [200] * 3
    assert is_locked_page(attempt(client, owner.email, PASSWORD, ip="192.0.2.3"))


def test_a_forged_forwarded_header_does_not_escape_the_lockout(client, owner, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]  # the attacker is not one of them
    for n in range(5):
        attempt(client, owner.email, "Wrong-Password-1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}")
    response = attempt(client, owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert is_locked_page(response)


def test_a_forged_forwarded_header_does_not_lock_out_someone_else(client, owner, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    # The attacker names the victim's address in the header, from its own socket address.
    fail(client, owner.email, 6, HTTP_X_FORWARDED_FOR=VICTIM_IP)
    assert is_locked_page(attempt(client, owner.email, PASSWORD))
    client.logout()
    response = attempt(client, owner.email, PASSWORD, ip=VICTIM_IP)
    assert response.status_code == 302
    assert client.get("/", REMOTE_ADDR=VICTIM_IP).status_code == 200


def test_a_trusted_proxy_counts_failures_per_forwarded_client(client, owner, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    fail(client, owner.email, 5, ip="10.0.0.2", HTTP_X_FORWARDED_FOR=ATTACKER)
    assert is_locked_page(attempt(client, owner.email, PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR=ATTACKER))
    # Another client behind the same proxy is not the attacker.
    response = attempt(client, owner.email, PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR=VICTIM_IP)
    assert response.status_code == 302


def test_the_lockout_is_audited_and_mailed_to_the_owner_once_an_hour(
    client, make_account, mailoutbox, django_capture_on_commit_callbacks
):
    owner = make_account(email="boss@example.com").memberships.get().user
    with django_capture_on_commit_callbacks(execute=True):
        fail(client, owner.email, 7)
        fail(client, owner.email, 7, ip=VICTIM_IP)
    events = AuditEvent.objects.filter(action="auth.lockout")
    assert events.exists()
    assert {event.ip for event in events} == {ATTACKER, VICTIM_IP}
    assert all(event.account == owner.membership.account and event.actor == owner for event in events)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["boss@example.com"]
    assert "locked" in mail.subject.lower()
    assert ATTACKER in mail.body
    assert "Wrong-Password-1" not in mail.body


def test_a_lockout_of_an_unknown_email_mails_nobody(client, owner, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        fail(client, "nobody@example.com", 6)
    assert AuditEvent.objects.filter(action="auth.lockout", actor=None, account=None).exists()
    assert mailoutbox == []


def _normalised(response, email: str) -> str:
    html = response.content.decode().replace(email, "EMAIL")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_the_answer_for_an_unknown_email_equals_the_answer_for_a_wrong_password(client, owner):
    unknown = attempt(client, "nobody@example.com", "Wrong-Password-1")
    wrong = attempt(client, owner.email, "Wrong-Password-1", ip=VICTIM_IP)
    assert unknown.status_code == wrong.status_code == 200
    assert _normalised(unknown, "nobody@example.com") == _normalised(wrong, owner.email)
    assert "The email or password is not right" in unknown.content.decode()
    # The lockout does not tell them apart either.
    fail(client, "nobody@example.com", 5)
    fail(client, owner.email, 5, ip=VICTIM_IP)
    locked_unknown = attempt(client, "nobody@example.com", "x")
    locked_known = attempt(client, owner.email, "x", ip=VICTIM_IP)
    assert locked_unknown.status_code == locked_known.status_code == 429
    assert _normalised(locked_unknown, "") == _normalised(locked_known, "")


def test_an_inactive_user_gets_the_same_answer_as_a_wrong_password(client, owner):
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    inactive = attempt(client, owner.email, PASSWORD)
    wrong = attempt(client, "nobody@example.com", "Wrong-Password-1", ip=VICTIM_IP)
    assert inactive.status_code == 200
    assert _normalised(inactive, owner.email) == _normalised(wrong, "nobody@example.com")
