from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Account, Membership, User
from audit.models import AuditEvent
from members.services import user_deactivate
from security import selectors, services
from security.models import UserSession
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
SECURITY = "/accounts/security/"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def sign_in(client, user: User, *, agent: str = FIREFOX, ip: str = "192.0.2.10"):
    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD}, HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    assert response.status_code == 302, response.content.decode()[:1500]
    return client


def signed_in(client) -> bool:
    response = client.get("/")
    return response.status_code == 200


def new_client(client):
    return client.__class__()


def set_timeouts(user: User, *, default: int, maximum: int) -> Account:
    account = user.membership.account
    Account.objects.filter(pk=account.pk).update(session_timeout_minutes=default, session_timeout_max_minutes=maximum)
    account.refresh_from_db()
    return account


def test_the_session_key_changes_at_sign_in(client, owner):
    before = client.session.session_key
    sign_in(client, owner)
    assert client.session.session_key != before
    assert not UserSession.objects.filter(session_key=before).exists()


def test_the_session_list_shows_each_browser_with_its_address(client, owner):
    sign_in(client, owner, agent=FIREFOX, ip="192.0.2.10")
    sign_in(new_client(client), owner, agent=CHROME, ip="2001:db8::20")
    page = client.get(SECURITY).content.decode()
    html = page.split('data-testid="sessions"')[1].split("</table>")[0]
    assert html.count('data-testid="session-row"') == 2
    assert "Firefox 121 on Linux <strong>(this device)</strong>" in html
    assert "Chrome 120 on Windows</td>" in html
    assert "192.0.2.10" in html
    assert "2001:db8::20" in html
    assert html.count("(this device)") == 1
    # Session keys are secrets: the page names sessions by an opaque id only.
    for key in UserSession.objects.values_list("session_key", flat=True):
        assert key not in page


def test_revoking_a_session_signs_that_browser_out(client, owner):
    sign_in(client, owner)
    other = sign_in(new_client(client), owner, agent=CHROME)
    public_id = selectors.session_public_id(other.session.session_key)
    response = client.post("/accounts/security/sessions/revoke/", {"session": public_id})
    assert response.status_code == 302
    assert not signed_in(other)
    assert signed_in(client)
    assert UserSession.objects.filter(user=owner).count() == 1
    assert AuditEvent.objects.filter(action="security.session_revoked", actor=owner).exists()


def revoke(client, session_key: str) -> str:
    """Revoke a session from the security page's list: the page that follows."""
    url = "/accounts/security/sessions/revoke/"
    return client.post(url, {"session": selectors.session_public_id(session_key)}, follow=True).content.decode()


def test_a_session_of_another_user_cannot_be_revoked(client, owner, make_account):
    stranger = make_account().memberships.get().user
    theirs = sign_in(new_client(client), stranger)
    sign_in(client, owner)
    assert "already ended" in revoke(client, theirs.session.session_key)
    assert signed_in(theirs)


def test_the_current_session_is_not_revoked_from_the_list(client, owner):
    sign_in(client, owner)
    assert "use Sign out instead" in revoke(client, client.session.session_key)
    assert signed_in(client)


def test_log_out_of_all_other_devices(client, owner):
    sign_in(client, owner)
    others = [sign_in(new_client(client), owner, agent=CHROME, ip=f"192.0.2.{n}") for n in (20, 21)]
    response = client.post("/accounts/security/sessions/end-others/", follow=True)
    assert "Signed out of 2 other sessions" in response.content.decode()
    assert signed_in(client)
    assert not any(signed_in(other) for other in others)
    assert list(UserSession.objects.filter(user=owner).values_list("session_key", flat=True)) == [
        client.session.session_key
    ]
    assert AuditEvent.objects.get(action="security.sessions_ended").data == {"count": 2}


def test_the_inactivity_timeout_slides_with_activity_and_then_signs_out(client, owner):
    start = timezone.now()
    sign_in(client, owner)
    assert client.session.get_expiry_age() == 60 * 60
    with time_machine.travel(start + timedelta(minutes=50)):
        assert signed_in(client)
    with time_machine.travel(start + timedelta(minutes=100)):
        assert signed_in(client)  # 50 minutes after the last request
    with time_machine.travel(start + timedelta(minutes=162)):
        response = client.get("/")
        assert response.status_code == 302
        assert response.url.startswith(LOGIN)
        assert "_auth_user_id" not in client.session
        response = client.get(response.url)
        assert "signed out after a period of inactivity" in response.content.decode()


def test_the_absolute_limit_is_12_hours_even_with_activity(client, owner):
    User.objects.filter(pk=owner.pk).update(session_timeout_minutes=24 * 60)
    start = timezone.now()
    sign_in(client, owner)
    for hours in (4, 8, 11.9):
        with time_machine.travel(start + timedelta(hours=hours)):
            assert signed_in(client), hours
    with time_machine.travel(start + timedelta(hours=12, minutes=1)):
        response = client.get("/")
        assert response.status_code == 302
        assert "12-hour limit" in client.get(response.url).content.decode()
        assert not signed_in(client)


def test_the_users_timeout_is_bounded_by_the_account_maximum(client, owner):
    set_timeouts(owner, default=15, maximum=30)
    User.objects.filter(pk=owner.pk).update(session_timeout_minutes=240)  # chosen before the maximum was lowered
    owner.refresh_from_db()
    assert services.session_timeout_minutes(owner) == 30
    assert services.session_timeout_choices(owner) == [15, 30]
    start = timezone.now()
    sign_in(client, owner)
    with time_machine.travel(start + timedelta(minutes=29)):
        assert signed_in(client)
    with time_machine.travel(start + timedelta(minutes=29 + 31)):
        assert not signed_in(client)


def test_choosing_a_timeout_on_the_security_page(client, owner):
    set_timeouts(owner, default=15, maximum=60)
    sign_in(client, owner)
    page = client.get(SECURITY).content.decode()
    html = page.split('action="/accounts/security/timeout/"')[1].split("</form>")[0]
    assert 'value="60"' in html
    assert 'value="240"' not in html
    response = client.post("/accounts/security/timeout/", {"minutes": "240"}, follow=True)
    assert "Choose one of the offered timeouts" in response.content.decode()
    owner.refresh_from_db()
    assert owner.session_timeout_minutes is None
    client.post("/accounts/security/timeout/", {"minutes": "60"})
    owner.refresh_from_db()
    assert owner.session_timeout_minutes == 60
    assert client.session.get_expiry_age() == 60 * 60
    assert AuditEvent.objects.get(action="security.session_timeout_changed").data == {"minutes": 60}


def test_deactivating_a_user_ends_all_their_sessions_at_once(client, owner):
    sub = User.objects.create_user("sub@example.com", PASSWORD)
    Membership.objects.create(user=sub, account=owner.membership.account)
    browsers = [sign_in(new_client(client), sub, ip=f"192.0.2.{n}") for n in (30, 31, 32)]
    sign_in(client, owner)
    assert UserSession.objects.filter(user=sub).count() == 3
    user_deactivate(user=sub, actor=owner)
    assert not UserSession.objects.filter(user=sub).exists()
    assert not any(signed_in(browser) for browser in browsers)
    assert signed_in(client)
    event = AuditEvent.objects.get(action="user.deactivated")
    assert event.actor == owner
    assert event.object_id == str(sub.pk)
    response = client.__class__().post(LOGIN, {"username": sub.email, "password": PASSWORD})
    assert response.status_code == 200  # cannot sign in again


def test_the_hourly_job_deletes_expired_session_rows_only(owner):
    from datetime import timedelta

    from django.utils import timezone

    from security.models import UserSession
    from security.tasks import clear_expired_sessions

    now = timezone.now()
    UserSession.objects.create(
        session_key="a" * 32, session_data="", expire_date=now - timedelta(seconds=1), user=owner
    )
    UserSession.objects.create(session_key="b" * 32, session_data="", expire_date=now + timedelta(hours=1), user=owner)
    assert clear_expired_sessions() == 1
    assert list(UserSession.objects.values_list("session_key", flat=True)) == ["b" * 32]
