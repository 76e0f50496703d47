import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from accounts.models import Account, User
from audit.models import AuditEvent
from core.errors import ApplicationError
from security import services
from security.models import PasswordHistory, UserSession
from security.tasks import send_password_age_reminders
from tests.conftest import PASSWORD, enrol_sms, verified_staff_client

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
CHANGE = "/accounts/security/password/"
NEW_PASSWORD = "Brand-New-Secret-77"


def error_codes(password: str, user: User) -> set[str]:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        return {error.code for error in exc.error_list}
    return set()


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Abcde1x", "password_too_short"),
        ("Zq7" + "x" * 126, "password_too_long"),
        ("kestrel-harbour-42", "password_no_upper"),
        ("Kestrel-Harbour-xy", "password_no_digit"),
        ("Password1", "password_too_common"),
        ("Margaretta1", "password_too_similar"),
    ],
)
def test_each_password_rule(password, code):
    user = User(email="margaretta@example.com")
    assert code in error_codes(password, user)


@pytest.mark.parametrize("password", ["Abcdef1x", "Zq7" + "x" * 125, "Kestrel-Harbour-42"])
def test_passwords_within_the_rules_are_accepted(password):
    assert error_codes(password, User(email="margaretta@example.com")) == set()


def test_none_of_the_last_five_passwords_may_be_reused_but_the_sixth_may(owner):
    passwords = [f"History-Pass-{n}" for n in range(1, 6)]
    for password in passwords:
        services.password_set(user=owner, new_password=password)
    assert PasswordHistory.objects.filter(user=owner).count() == 5
    owner.refresh_from_db()
    for recent in passwords:  # the current one and the four before it
        assert error_codes(recent, owner) == {"password_reused"}
    assert error_codes(PASSWORD, owner) == set()  # the sixth most recent
    services.password_set(user=owner, new_password=PASSWORD)
    assert owner.check_password(PASSWORD)


def test_the_history_keeps_hashes_only(owner):
    services.password_set(user=owner, new_password=NEW_PASSWORD)
    [old] = PasswordHistory.objects.filter(user=owner)
    assert old.password.startswith("argon2$")
    assert PASSWORD not in old.password


def sign_in(client, user: User, password: str = PASSWORD, **extra):
    response = client.post(LOGIN, {"username": user.email, "password": password}, **extra)
    assert response.status_code == 302, response.content.decode()[:1500]
    return response


# --- Changing the password --------------------------------------------------------------------


def test_changing_the_password_needs_the_old_one(client, owner):
    sign_in(client, owner)
    response = client.post(
        CHANGE, {"old_password": "Wrong-Password-1", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert "Your current password is not right" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("new1", "new2", "message"),
    [
        ("short1A", "short1A", "too short"),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "do not match"),
        (PASSWORD, PASSWORD, "used recently"),
        ("password1", "password1", "capital letter"),
    ],
)
def test_the_change_page_applies_the_policy(client, owner, new1, new2, message):
    sign_in(client, owner)
    response = client.post(CHANGE, {"old_password": PASSWORD, "new_password1": new1, "new_password2": new2})
    assert response.status_code == 200
    assert message in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


@pytest.mark.django_db(transaction=True)  # the other sessions end when the change commits
def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(client, owner):
    other = client.__class__()
    sign_in(client, owner, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0")
    sign_in(other, owner, HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537.36")
    assert UserSession.objects.filter(user=owner).count() == 2
    response = client.post(
        CHANGE, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    # Only this browser's session is left in the list, before the other browser comes back.
    assert list(UserSession.objects.filter(user=owner).values_list("session_key", flat=True)) == [
        client.session.session_key
    ]
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert timezone.now() - owner.password_changed_at < timedelta(minutes=1)
    event = AuditEvent.objects.get(action="auth.password_changed")
    assert event.actor == owner
    assert event.data == {"reason": "change"}
    assert NEW_PASSWORD not in str(event.data)


# --- Reset by e-mail --------------------------------------------------------------------------


def reset_link(mail) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.body)
    assert match, mail.body
    return match.group(1)


@pytest.mark.django_db(transaction=True)  # the sessions end when the reset commits
def test_reset_by_email_link_applies_the_policy_and_does_not_sign_in(client, owner, mailoutbox):
    other = client.__class__()
    sign_in(other, owner)
    mailoutbox.clear()  # the new-device alert
    response = client.post("/accounts/password-reset/", {"email": owner.email.upper()})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [owner.email]
    response = client.get(reset_link(mailoutbox[0]))
    assert response.status_code == 302
    form_url = response.url
    assert client.get(form_url).status_code == 200
    response = client.post(form_url, {"new_password1": "password1", "new_password2": "password1"})
    assert response.status_code == 200
    assert "capital letter" in response.content.decode()
    response = client.post(form_url, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert "used recently" in response.content.decode()
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.url == "/accounts/reset/done/"
    # Not signed in by the reset; the other browser is signed out.
    assert not UserSession.objects.filter(user=owner).exists()
    assert client.get("/").status_code == 302
    assert "_auth_user_id" not in client.session
    assert other.get("/").status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    changed = AuditEvent.objects.get(action="auth.password_changed")
    assert (changed.data, changed.ip) == ({"reason": "reset"}, "127.0.0.1")
    # The link works once.
    response = client.get(reset_link(mailoutbox[0]), follow=True)
    assert 'name="new_password1"' not in response.content.decode()


def test_a_reset_never_bypasses_the_second_factor(client, owner, mailoutbox, django_capture_on_commit_callbacks):
    enrol_sms(owner)
    with django_capture_on_commit_callbacks(execute=True):  # the e-mail task is queued on commit
        client.post("/accounts/password-reset/", {"email": owner.email})
    form_url = client.get(reset_link(mailoutbox[0])).url
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    response = sign_in(client, owner, NEW_PASSWORD)
    assert response.url == "/accounts/login/verify/"
    assert client.get("/").status_code == 302


def test_a_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(
    client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post("/accounts/password-reset/", {"email": owner.email})
        unknown = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url
    assert len(mailoutbox) == 1


def test_reset_emails_to_one_address_are_limited_per_hour(
    client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    from security.views.signin import RESET_EMAILS_PER_ADDRESS_PER_HOUR

    with django_capture_on_commit_callbacks(execute=True):
        answers = {
            client.post("/accounts/password-reset/", {"email": owner.email}).url
            for _ in range(RESET_EMAILS_PER_ADDRESS_PER_HOUR + 2)
        }
    assert answers == {"/accounts/password-reset/sent/"}  # the same answer every time
    assert len(mailoutbox) == RESET_EMAILS_PER_ADDRESS_PER_HOUR


def test_reset_requests_from_one_client_address_are_limited_per_hour(
    client, make_account, mailoutbox, django_capture_on_commit_callbacks
):
    from security.views.signin import RESET_REQUESTS_PER_IP_PER_HOUR

    fresh = make_account().memberships.get().user
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(RESET_REQUESTS_PER_IP_PER_HOUR):  # unknown addresses: no e-mail, but counted
            client.post("/accounts/password-reset/", {"email": f"nobody-{n}@example.com"}, REMOTE_ADDR="198.51.100.7")
        client.post("/accounts/password-reset/", {"email": fresh.email}, REMOTE_ADDR="198.51.100.7")
    assert mailoutbox == []  # a known address, but this client is over its limit
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password-reset/", {"email": fresh.email}, REMOTE_ADDR="198.51.100.8")
    assert len(mailoutbox) == 1


# --- Password age -----------------------------------------------------------------------------


def age_password(user: User, days: int) -> None:
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - timedelta(days=days))
    user.refresh_from_db()


def set_policy(user: User, **fields) -> Account:
    account = user.membership.account
    Account.objects.filter(pk=account.pk).update(**fields)
    account.refresh_from_db()
    return account


def test_the_age_reminder_is_mailed_once_per_period(
    owner, make_account, mailoutbox, django_capture_on_commit_callbacks
):
    fresh = make_account().memberships.get().user
    never = make_account().memberships.get().user
    set_policy(never, password_max_age_days=0)
    age_password(never, 400)
    age_password(owner, 31)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_password_age_reminders() == 1
    assert [mail.to for mail in mailoutbox] == [[owner.email]]
    assert "30 days" in mailoutbox[0].body
    assert fresh.email not in str([mail.to for mail in mailoutbox])

    # The next day's run sends nothing: one e-mail per period, not one a day.
    with time_machine.travel(timezone.now() + timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        assert send_password_age_reminders() == 0
    assert len(mailoutbox) == 1

    # A new password starts a new period; when that one expires, one more e-mail.
    services.password_set(user=owner, new_password=NEW_PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_password_age_reminders() == 0
    later = timezone.now() + timedelta(days=31)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert send_password_age_reminders() == 2  # the owner again, and now `fresh`
        assert send_password_age_reminders() == 0
    assert sorted(mail.to[0] for mail in mailoutbox[1:]) == sorted([owner.email, fresh.email])


def test_the_age_reminder_skips_inactive_users(owner, mailoutbox, django_capture_on_commit_callbacks):
    age_password(owner, 31)
    User.objects.filter(pk=owner.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_password_age_reminders() == 0
    assert mailoutbox == []


def test_remind_mode_shows_a_banner_at_sign_in(client, owner):
    age_password(owner, 31)
    response = client.post(LOGIN, {"username": owner.email, "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert "Your password is older than 30 days" in response.content.decode()
    assert client.get("/accounts/security/").status_code == 200  # a reminder, not a confinement


def test_no_banner_for_a_password_within_its_age(client, owner):
    age_password(owner, 29)
    response = client.post(LOGIN, {"username": owner.email, "password": PASSWORD}, follow=True)
    assert "older than" not in response.content.decode()


def test_force_mode_confines_the_user_to_the_change_page(client, owner):
    set_policy(owner, password_age_mode=Account.PasswordAgeMode.FORCE)
    age_password(owner, 31)
    sign_in(client, owner)
    for url in ("/", "/accounts/security/", "/accounts/security/audit/", "/accounts/security/two-factor/sms/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url == CHANGE, url
    response = client.get(CHANGE)
    assert response.status_code == 200
    response = client.post(
        CHANGE, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/accounts/security/").status_code == 200


def test_force_mode_applies_to_a_session_already_open(client, owner):
    set_policy(owner, password_age_mode=Account.PasswordAgeMode.FORCE)
    User.objects.filter(pk=owner.pk).update(password_changed_at=timezone.now() - timedelta(days=30, minutes=-30))
    sign_in(client, owner)
    assert client.get("/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        response = client.get("/")
        assert response.status_code == 302
        assert response.url == CHANGE


def test_a_password_staff_set_in_the_admin_follows_the_policy_and_history(owner):
    from datetime import timedelta

    from django.utils import timezone

    from security.models import PasswordHistory

    User.objects.filter(pk=owner.pk).update(password_changed_at=timezone.now() - timedelta(days=400))
    user_client = Client()
    user_client.force_login(owner)
    c, _ = verified_staff_client()
    url = f"/admin/accounts/user/{owner.pk}/password/"
    # The user's current password again: refused by the history, like any change.
    r = c.post(url, {"usable_password": "true", "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 200
    assert not PasswordHistory.objects.filter(user=owner).exists()
    r = c.post(url, {"usable_password": "true", "password1": "Staff-Chosen-91", "password2": "Staff-Chosen-91"})
    assert r.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("Staff-Chosen-91")
    assert PasswordHistory.objects.filter(user=owner).count() == 1  # the old one, kept
    assert timezone.now() - owner.password_changed_at < timedelta(minutes=1)  # its age restarts
    assert user_client.get("/").status_code == 302  # the user's sessions ended


def test_password_confirmations_are_limited(owner):
    from security.services import password_confirm

    for _ in range(10):
        assert not password_confirm(user=owner, password="wrong")
    with pytest.raises(ApplicationError) as excinfo:
        password_confirm(user=owner, password="wrong")
    assert excinfo.value.status == 429
