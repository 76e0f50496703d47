"""Sub-users (SPEC §3, §4.7): invitations, permissions and limits, deactivation, and the rules
the services enforce (tenant scoping, owner and self protection, no escalation, audit)."""

import re
from datetime import time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Membership, User
from apikeys import services as key_services
from audit.models import AuditEvent
from core import localcache
from core.errors import ApplicationError
from members import services as services_users
from members.services import (
    invitation_accept,
    subuser_deactivate,
    subuser_invitation_cancel,
    subuser_invitation_resend,
    subuser_invite,
    subuser_reactivate,
    subuser_update,
)
from messaging.models import SenderName
from security.models import UserSession
from tests.conftest import PASSWORD
from tests.members.support import invite_link, make_member

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Invited-Person-77"
USERS = "/accounts/users/"


def invite(owner, email="new@example.com", permissions=("send_sms",), monthly_limit=None, **kwargs):
    return subuser_invite(
        actor=owner,
        email=email,
        permissions=list(permissions),
        monthly_limit=monthly_limit,
        domain="portal.example",
        use_https=True,
        **kwargs,
    )


def update(actor, member: User, permissions=None, **changes):
    """subuser_update with `permissions` as the full list the member should hold."""
    m = Membership.objects.get(user=member)
    flags = None if permissions is None else {name: name in permissions for name in Membership.PERMISSIONS}
    return subuser_update(actor=actor, membership_id=m.pk, permissions=flags, **changes)


def membership_id(user: User) -> int:
    return Membership.objects.get(user=user).pk


@pytest.fixture
def invited(owner, mailoutbox, django_capture_on_commit_callbacks):
    """An invitation sent (and its e-mail delivered by the in-process task)."""
    with django_capture_on_commit_callbacks(execute=True):
        membership = invite(owner, permissions=["send_sms", "view_messages"], monthly_limit=Decimal("25"))
    return membership.user


# --- Invitations ------------------------------------------------------------------------------


def test_invite_creates_exactly_an_inactive_user_and_membership_and_queues_one_tokenless_email(
    owner, email_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    users_before = User.objects.count()
    email_tasks.hold()
    with django_capture_on_commit_callbacks(execute=True):
        membership = invite(owner, email=" New@Example.com ", permissions=["send_sms", "view_messages"])
    assert User.objects.count() == users_before + 1
    user = User.objects.get(email="new@example.com")
    assert not user.is_active
    assert not user.has_usable_password()
    assert user.last_login is None
    assert membership.user == user
    assert membership.account == owner.membership.account
    assert membership.role == "subuser"
    assert membership.permissions() == {"send_sms", "view_messages"}

    assert mailoutbox == []  # nothing is sent from the request
    [(name, kwargs, options)] = email_tasks.queued
    assert name == "members.tasks.send_invitation_email"
    assert kwargs == {"user_id": user.pk, "domain": "portal.example", "use_https": True}
    assert options == {"expires": 7 * 24 * 3600}

    email_tasks.run()
    [mail] = mailoutbox
    assert mail.to == ["new@example.com"]
    assert owner.membership.account.name in mail.subject
    path, _uid, token = invite_link(mail)
    assert mail.body.count("https://portal.example/accounts/reset/invite-") == 1
    assert token not in repr(email_tasks.queued)
    assert path not in repr(email_tasks.queued)


def test_invite_refuses_an_address_that_already_has_a_user(owner, make_account):
    other_owner = make_account().memberships.get().user
    for email in (owner.email, other_owner.email.upper()):
        with pytest.raises(ApplicationError) as excinfo:
            invite(owner, email=email)
        assert excinfo.value.code == "email_taken"
        assert "email" in excinfo.value.errors
    assert Membership.objects.filter(account=owner.membership.account).count() == 1


def test_invite_is_atomic_when_the_membership_cannot_be_made(owner, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Membership.objects, "create", boom)
    with pytest.raises(RuntimeError):
        invite(owner, email="half@example.com")
    assert not User.objects.filter(email="half@example.com").exists()


def test_accepting_sets_a_valid_password_once_and_activates(client, invited, mailoutbox):
    _path, uid, token = invite_link(mailoutbox[0])
    with pytest.raises(ApplicationError) as excinfo:
        invitation_accept(uidb64=uid, token=token, password="short")
    assert excinfo.value.code == "weak_password"
    invited.refresh_from_db()
    assert not invited.is_active
    assert not invited.has_usable_password()

    user = invitation_accept(uidb64=uid, token=token, password=NEW_PASSWORD)
    user.refresh_from_db()
    assert user.is_active
    assert user.check_password(NEW_PASSWORD)
    assert services_users.member_state(user) == "active"
    assert AuditEvent.objects.filter(action="subuser.invitation_accepted", actor=user).count() == 1

    with pytest.raises(ApplicationError) as excinfo:  # the link dies once used
        invitation_accept(uidb64=uid, token=token, password="Another-Pass-88")
    assert excinfo.value.code == "invitation_invalid"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # The new user signs in normally.
    response = client.post("/accounts/login/", {"username": user.email, "password": NEW_PASSWORD})
    assert response.status_code == 302


def test_an_expired_or_tampered_invitation_token_is_refused(invited, mailoutbox):
    _path, uid, token = invite_link(mailoutbox[0])
    timestamp, digest = token.split("-")
    tampered = [
        f"{timestamp}-{digest[:-1]}{'0' if digest[-1] != '0' else '1'}",
        token + "x",
        "not-a-token",
        "",
    ]
    for bad in tampered:
        with pytest.raises(ApplicationError):
            invitation_accept(uidb64=uid, token=bad, password=NEW_PASSWORD)
    with pytest.raises(ApplicationError):  # someone else's uid with this token
        invitation_accept(uidb64="MQ", token=token, password=NEW_PASSWORD)
    # A password-reset token of the same user is no invitation token (its own salt).
    from django.contrib.auth.tokens import default_token_generator

    with pytest.raises(ApplicationError):
        invitation_accept(uidb64=uid, token=default_token_generator.make_token(invited), password=NEW_PASSWORD)
    with (
        time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)),
        pytest.raises(ApplicationError) as excinfo,
    ):
        invitation_accept(uidb64=uid, token=token, password=NEW_PASSWORD)
    assert excinfo.value.code == "invitation_invalid"
    with time_machine.travel(timezone.now() + timedelta(days=6, hours=23)):
        assert invitation_accept(uidb64=uid, token=token, password=NEW_PASSWORD).is_active


def test_resend_replaces_the_link_and_cancel_removes_the_invitee(
    owner, invited, mailoutbox, django_capture_on_commit_callbacks
):
    _path, uid, first_token = invite_link(mailoutbox[0])
    with django_capture_on_commit_callbacks(execute=True):
        subuser_invitation_resend(
            actor=owner, membership_id=membership_id(invited), domain="portal.example", use_https=True
        )
    assert len(mailoutbox) == 2
    _path, _uid, second_token = invite_link(mailoutbox[1])
    with pytest.raises(ApplicationError):
        invitation_accept(uidb64=uid, token=first_token, password=NEW_PASSWORD)
    assert services_users.invitation_user(uidb64=uid, token=second_token) == invited

    email = subuser_invitation_cancel(actor=owner, membership_id=membership_id(invited))
    assert email == invited.email
    assert not User.objects.filter(pk=invited.pk).exists()
    assert not Membership.objects.filter(user_id=invited.pk).exists()
    with pytest.raises(ApplicationError):
        invitation_accept(uidb64=uid, token=second_token, password=NEW_PASSWORD)


def test_resend_and_cancel_only_apply_to_pending_invitations(owner):
    member = make_member(owner, "active@example.com")
    with pytest.raises(ApplicationError) as excinfo:
        subuser_invitation_resend(actor=owner, membership_id=membership_id(member), domain="x", use_https=True)
    assert excinfo.value.code == "not_invited"
    with pytest.raises(ApplicationError) as excinfo:
        subuser_invitation_cancel(actor=owner, membership_id=membership_id(member))
    assert excinfo.value.code == "not_invited"
    assert User.objects.filter(pk=member.pk).exists()


def test_a_canceled_invitation_sends_nothing_when_its_task_runs_late(owner, email_tasks, mailoutbox):
    email_tasks.hold()
    membership = invite(owner, email="late@example.com")
    subuser_invitation_cancel(actor=owner, membership_id=membership.pk)
    assert services_users.invitation_email_send(user_id=membership.user_id, domain="x", use_https=True) is False
    assert mailoutbox == []


# --- Escalation, owner and self -------------------------------------------------------------


@pytest.fixture
def manager(owner) -> User:
    return make_member(
        owner, "manager@example.com", manage_users=True, send_sms=True, view_messages=True, view_billing=False
    )


def test_a_manager_grants_only_permissions_it_holds_and_never_manage_users(manager):
    for permissions in (["send_sms", "view_billing"], ["manage_users"], ["send_sms", "manage_security"]):
        with pytest.raises(ApplicationError) as excinfo:
            invite(manager, email="x@example.com", permissions=permissions)
        assert excinfo.value.code == "permission_escalation"
        assert excinfo.value.status == 403
    assert not User.objects.filter(email="x@example.com").exists()
    membership = invite(manager, email="ok@example.com", permissions=["send_sms", "view_messages"])
    assert membership.permissions() == {"send_sms", "view_messages"}

    member = make_member(manager, "member@example.com", send_sms=True, view_messages=False)
    with pytest.raises(ApplicationError) as excinfo:
        update(manager, member, permissions=["send_sms", "view_billing"])
    assert excinfo.value.code == "permission_escalation"
    with pytest.raises(ApplicationError):
        update(manager, member, permissions=["send_sms", "manage_users"])
    assert Membership.objects.get(user=member).permissions() == {"send_sms"}
    update(manager, member, permissions=["view_messages"])
    assert Membership.objects.get(user=member).permissions() == {"view_messages"}


def test_the_owner_may_grant_manage_users(owner):
    member = make_member(owner, "member@example.com")
    update(owner, member, permissions=["manage_users", "view_billing"])
    assert Membership.objects.get(user=member).permissions() == {"manage_users", "view_billing"}


def test_a_manager_with_a_monthly_limit_gives_no_larger_limit_or_none(owner, manager):
    Membership.objects.filter(user=manager).update(monthly_limit=Decimal("100"))
    manager = User.objects.get(pk=manager.pk)
    for limit in (None, Decimal("100.01")):
        with pytest.raises(ApplicationError) as excinfo:
            invite(manager, email="x@example.com", monthly_limit=limit)
        assert excinfo.value.code == "permission_escalation"
    assert invite(manager, email="y@example.com", monthly_limit=Decimal("100")).monthly_limit == Decimal("100")


def test_a_manager_cannot_touch_members_with_more_rights_or_other_managers(owner, manager):
    richer = make_member(owner, "richer@example.com", view_billing=True)
    peer = make_member(owner, "peer@example.com", manage_users=True)
    for member in (richer, peer):
        with pytest.raises(ApplicationError) as excinfo:
            update(manager, member, permissions=["send_sms"])
        assert excinfo.value.code == "forbidden"
        with pytest.raises(ApplicationError):
            subuser_deactivate(actor=manager, membership_id=membership_id(member))
        assert User.objects.get(pk=member.pk).is_active


def test_nobody_edits_or_deactivates_the_owner_or_themselves(owner, manager):
    cases = [(owner, owner), (manager, owner), (manager, manager)]
    for actor, target in cases:
        with pytest.raises(ApplicationError) as excinfo:
            update(actor, target, permissions=[])
        assert excinfo.value.status == 403
        with pytest.raises(ApplicationError):
            subuser_deactivate(actor=actor, membership_id=membership_id(target))
    assert User.objects.get(pk=owner.pk).is_active
    assert User.objects.get(pk=manager.pk).is_active
    assert Membership.objects.get(user=manager).manage_users


def test_a_member_without_manage_users_manages_nobody(owner):
    plain = make_member(owner, "plain@example.com", send_sms=True)
    other = make_member(owner, "other@example.com")
    with pytest.raises(ApplicationError) as excinfo:
        invite(plain, email="x@example.com")
    assert excinfo.value.code == "forbidden"
    with pytest.raises(ApplicationError):
        update(plain, other, permissions=[])
    with pytest.raises(ApplicationError):
        subuser_deactivate(actor=plain, membership_id=membership_id(other))


def test_a_manager_whose_right_was_just_removed_cannot_use_it(owner, manager):
    """The service reads the manager's own permissions from its locked row, not from the
    request's (possibly stale) copy."""
    member = make_member(owner, "member@example.com")
    stale = User.objects.select_related("membership").get(pk=manager.pk)
    assert stale.membership.manage_users
    Membership.objects.filter(user=manager).update(manage_users=False)
    with pytest.raises(ApplicationError) as excinfo:
        update(stale, member, permissions=[])
    assert excinfo.value.code == "forbidden"


# --- Tenant isolation -------------------------------------------------------------------------


def test_another_accounts_member_is_not_found_by_any_service(owner, make_account):
    stranger_owner = make_account().memberships.get().user
    stranger = make_member(stranger_owner, "stranger@example.com")
    pk = membership_id(stranger)
    calls = [
        lambda: update(owner, stranger, permissions=[]),
        lambda: subuser_deactivate(actor=owner, membership_id=pk),
        lambda: subuser_reactivate(actor=owner, membership_id=pk),
        lambda: subuser_invitation_resend(actor=owner, membership_id=pk, domain="x", use_https=True),
        lambda: subuser_invitation_cancel(actor=owner, membership_id=pk),
    ]
    for call in calls:
        with pytest.raises(ApplicationError) as excinfo:
            call()
        assert excinfo.value.status == 404
    assert User.objects.get(pk=stranger.pk).is_active


def test_every_member_url_of_another_account_is_a_404(client, owner, make_account):
    stranger_owner = make_account().memberships.get().user
    stranger = make_member(stranger_owner, "stranger@example.com")
    pk = membership_id(stranger)
    client.force_login(owner)
    for method, path in [
        ("get", f"{USERS}{pk}/"),
        ("post", f"{USERS}{pk}/"),
        ("get", f"{USERS}{pk}/deactivate/"),
        ("post", f"{USERS}{pk}/deactivate/"),
        ("post", f"{USERS}{pk}/reactivate/"),
        ("post", f"{USERS}{pk}/resend/"),
        ("get", f"{USERS}{pk}/cancel/"),
        ("post", f"{USERS}{pk}/cancel/"),
        ("get", f"{USERS}{membership_id(stranger_owner)}/"),
        ("get", f"{USERS}999999/"),
    ]:
        assert getattr(client, method)(path).status_code == 404, (method, path)
    assert User.objects.get(pk=stranger.pk).is_active


# --- Deactivation and API keys ----------------------------------------------------------------


def test_deactivation_ends_sessions_and_stops_api_keys_then_reactivation_restores_sign_in(client, owner):
    member = make_member(owner, "member@example.com", manage_api_tokens=True, view_billing=True)
    secret = key_services.token_create(user=member, name="Shop", scopes=["balance:read"]).secret
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/balance", **headers).status_code == 200
    client.force_login(member)
    assert client.get("/").status_code == 200
    assert UserSession.objects.filter(user=member).exists()

    subuser_deactivate(actor=owner, membership_id=membership_id(member))
    assert not User.objects.get(pk=member.pk).is_active
    assert not UserSession.objects.filter(user=member).exists()
    assert client.get("/").status_code == 302  # signed out
    client.logout()
    response = client.get("/api/v1/balance", **headers)
    assert response.status_code == 403
    assert response.json()["code"] == "user_inactive"
    assert AuditEvent.objects.filter(action="user.deactivated", object_id=str(member.pk)).count() == 1

    with pytest.raises(ApplicationError) as excinfo:
        subuser_deactivate(actor=owner, membership_id=membership_id(member))
    assert excinfo.value.code == "not_active"

    subuser_reactivate(actor=owner, membership_id=membership_id(member))
    assert User.objects.get(pk=member.pk).is_active
    assert client.post("/accounts/login/", {"username": member.email, "password": PASSWORD}).status_code == 302
    assert AuditEvent.objects.filter(action="user.reactivated", object_id=str(member.pk)).count() == 1


def test_deactivating_a_pending_invitation_is_refused(owner, invited):
    with pytest.raises(ApplicationError) as excinfo:
        subuser_deactivate(actor=owner, membership_id=membership_id(invited))
    assert excinfo.value.code == "not_active"


def test_removing_a_permission_shrinks_an_existing_tokens_scopes_on_the_next_request(client, owner, settings):
    settings.API_LOCAL_CACHE_SECONDS = 1  # the production setting: the change must clear it
    localcache.clear()
    member = make_member(owner, "member@example.com", manage_api_tokens=True, view_billing=True, view_messages=True)
    secret = key_services.token_create(user=member, name="Shop", scopes=["balance:read", "messages:read"]).secret
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/balance", **headers).status_code == 200  # now in this process's cache
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda func, *a, **k: func())
        update(owner, member, permissions=["manage_api_tokens", "view_messages"])
    response = client.get("/api/v1/balance", **headers)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert client.get("/api/v1/messages", **headers).status_code == 200  # the scope still held


# --- Limits, window, senders ------------------------------------------------------------------


def test_update_saves_limits_window_and_senders_and_audits_old_and_new_values(owner):
    account = owner.membership.account
    shop = SenderName.objects.create(account=account, name="Shop", status="approved")
    SenderName.objects.create(account=account, name="Other", status="approved")
    member = make_member(owner, "member@example.com", monthly_limit=Decimal("10"))
    Membership.objects.filter(user=member).update(
        monthly_spent=Decimal("3"), spent_month=timezone.now().date().replace(day=1)
    )
    update(
        owner,
        member,
        permissions=["send_sms", "view_billing"],
        monthly_limit=None,
        window_weekdays=[5, 1, 1],
        window_start=time(9),
        window_end=time(17, 30),
        window_timezone="Europe/Warsaw",
        allowed_sender_ids=[shop.pk],
    )
    m = Membership.objects.get(user=member)
    assert m.monthly_limit is None
    assert m.monthly_spent == Decimal("3")  # the spend is never overwritten
    assert (m.window_weekdays, m.window_start, m.window_end, m.window_timezone) == (
        [1, 5],
        time(9),
        time(17, 30),
        "Europe/Warsaw",
    )
    assert list(m.allowed_senders.all()) == [shop]
    event = AuditEvent.objects.get(action="subuser.updated")
    assert event.actor == owner
    assert event.object_id == str(member.pk)
    changes = event.data["changes"]
    assert changes["view_messages"] == [True, False]
    assert changes["view_billing"] == [False, True]
    assert changes["monthly_limit"] == ["10.0000", None]
    assert changes["window_weekdays"] == [[], [1, 5]]
    assert changes["window_start"] == [None, "09:00"]
    assert changes["window_timezone"] == ["UTC", "Europe/Warsaw"]
    assert changes["allowed_senders"] == [[], ["Shop"]]
    assert "send_sms" not in changes  # unchanged fields are not listed

    update(owner, member, permissions=["send_sms", "view_billing"], window_timezone="Europe/Warsaw")  # no change
    assert AuditEvent.objects.filter(action="subuser.updated").count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window_timezone": "Mars/Olympus"}, "window_timezone"),
        ({"window_timezone": "../../etc/passwd"}, "window_timezone"),
        ({"window_start": time(9), "window_end": time(9)}, "window_end"),
        ({"window_start": time(9), "window_end": None}, "window_end"),
        ({"window_weekdays": [0, 8]}, "window_weekdays"),
        ({"monthly_limit": Decimal("-1")}, "monthly_limit"),
        ({"allowed_sender_ids": [999999]}, "allowed_senders"),
    ],
)
def test_update_refuses_bad_limits_with_field_errors(owner, changes, field):
    member = make_member(owner, "member@example.com")
    with pytest.raises(ApplicationError) as excinfo:
        update(owner, member, **changes)
    assert field in excinfo.value.errors


def test_senders_must_be_the_accounts_approved_ones(owner, make_account):
    other = make_account().memberships.get().user.membership.account
    foreign = SenderName.objects.create(account=other, name="Foreign", status="approved")
    pending = SenderName.objects.create(account=owner.membership.account, name="Pending", status="pending")
    member = make_member(owner, "member@example.com")
    for sender in (foreign, pending):
        with pytest.raises(ApplicationError):
            update(owner, member, allowed_sender_ids=[sender.pk])
    assert not Membership.objects.get(user=member).allowed_senders.exists()


# --- Audit ------------------------------------------------------------------------------------


def test_each_change_writes_an_audit_event_without_secrets(owner, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        membership = invite(owner, email="audited@example.com", permissions=["send_sms"], monthly_limit=Decimal("5"))
        subuser_invitation_resend(actor=owner, membership_id=membership.pk, domain="x", use_https=False)
    _path, uid, token = invite_link(mailoutbox[-1])
    invitation_accept(uidb64=uid, token=token, password=NEW_PASSWORD)
    member = User.objects.get(email="audited@example.com")
    update(owner, member, permissions=["send_sms", "view_messages"])
    subuser_deactivate(actor=owner, membership_id=membership.pk)
    subuser_reactivate(actor=owner, membership_id=membership.pk)
    other = invite(owner, email="canceled@example.com")
    subuser_invitation_cancel(actor=owner, membership_id=other.pk)

    events = AuditEvent.objects.filter(account=owner.membership.account).order_by("created_at", "id")
    actions = [e.action for e in events if e.action.startswith(("subuser.", "user."))]
    assert actions == [
        "subuser.invited",
        "subuser.invitation_resent",
        "subuser.invitation_accepted",
        "subuser.updated",
        "user.deactivated",
        "user.reactivated",
        "subuser.invited",
        "subuser.invitation_canceled",
    ]
    invited_event = events.filter(action="subuser.invited").first()
    assert invited_event.data == {"email": "audited@example.com", "permissions": ["send_sms"], "monthly_limit": "5"}
    dump = repr(list(events.values()))
    assert token not in dump
    assert NEW_PASSWORD not in dump


# --- Pages ------------------------------------------------------------------------------------


def test_the_users_page_lists_members_with_state_badges_and_spend(client, owner, invited):
    member = make_member(owner, "member@example.com", view_billing=True, monthly_limit=Decimal("50"))
    Membership.objects.filter(user=member).update(
        monthly_spent=Decimal("12.5"), spent_month=timezone.now().date().replace(day=1)
    )
    gone = make_member(owner, "gone@example.com")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    client.force_login(owner)
    response = client.get(USERS)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="users-empty"' not in html
    rows = html.split('data-testid="member-row"')[1:]
    assert len(rows) == 4
    assert owner.email in rows[0]
    assert "Owner" in rows[0]
    states = dict(re.findall(r'<td>([^<\s]+@example\.com).*?data-testid="member-state">(\w+)<', html, re.S))
    assert states == {owner.email: "Active", "gone@example.com": "Deactivated", "member@example.com": "Active",
                      invited.email: "Invited"}  # fmt: skip
    member_row = next(row for row in rows if "member@example.com" in row)
    assert "12.5" in member_row
    assert "of 50" in member_row
    assert ">Billing<" in member_row
    invited_row = next(row for row in rows if invited.email in row)
    assert "Resend invitation" in invited_row
    assert "Cancel invitation" in invited_row
    assert f'href="{USERS}"' in html  # the nav link for the owner


def test_the_users_page_shows_an_empty_state_and_paginates(client, owner):
    client.force_login(owner)
    assert b'data-testid="users-empty"' in client.get(USERS).content
    for n in range(30):
        make_member(owner, f"m{n:02d}@example.com", password=None)
    first = client.get(USERS).content.decode()
    assert first.count('data-testid="member-row"') == 25
    assert "Page 1 of 2" in first
    second = client.get(USERS, {"page": 2}).content.decode()
    assert second.count('data-testid="member-row"') == 6
    assert client.get(USERS, {"page": "x' or 1=1"}).status_code == 200


def test_only_the_owner_and_managers_see_the_users_pages(client, owner, manager):
    plain = make_member(owner, "plain@example.com", send_sms=True)
    client.force_login(plain)
    assert client.get(USERS).status_code == 403
    assert client.get(USERS + "invite/").status_code == 403
    assert client.get(f"{USERS}{membership_id(manager)}/").status_code == 403
    assert f'href="{USERS}"'.encode() not in client.get("/").content
    client.force_login(manager)
    assert client.get(USERS).status_code == 200
    assert f'href="{USERS}"'.encode() in client.get("/").content


def test_the_invite_form_shows_errors_for_bad_input(client, owner, make_account):
    taken = make_account().memberships.get().user.email
    client.force_login(owner)
    page = client.get(USERS + "invite/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'for="id_email"' in page
    for data, message in [
        ({"email": "not an address"}, "Enter a valid email address."),
        ({"email": taken}, "A user with this e-mail address already exists."),
        ({"email": "a@example.com", "monthly_limit": "-5"}, "greater than or equal to 0"),
        ({"email": "a@example.com", "monthly_limit": "1e400"}, "Ensure that there are no more than"),
        ({"email": "a@example.com", "monthly_limit": "abc"}, "Enter a number."),
        ({"email": "a@example.com", "permissions": ["superuser"]}, "Select a valid choice."),
        ({"email": "a\x00@example.com"}, "Null characters are not allowed."),
    ]:
        response = client.post(USERS + "invite/", data)
        assert response.status_code == 200, data
        assert message in response.content.decode(), (data, response.content.decode()[-3000:])
    assert not User.objects.filter(email="a@example.com").exists()


def test_the_invite_form_invites(client, owner, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            USERS + "invite/", {"email": "New@example.com", "permissions": ["send_sms"], "monthly_limit": "9.5"}
        )
    assert response.status_code == 302
    assert response["Location"] == USERS
    membership = Membership.objects.get(user__email="new@example.com")
    assert membership.permissions() == {"send_sms"}
    assert membership.monthly_limit == Decimal("9.5")
    [mail] = mailoutbox
    assert "http://testserver/accounts/reset/invite-" in mail.body


def test_a_manager_is_offered_only_the_permissions_it_may_grant(client, manager):
    client.force_login(manager)
    page = client.get(USERS + "invite/").content.decode()
    offered = set(re.findall(r'name="permissions" value="(\w+)"', page))
    assert offered == {"send_sms", "view_messages"}


def test_the_edit_form_shows_errors_for_bad_input(client, owner):
    member = make_member(owner, "member@example.com")
    path = f"{USERS}{membership_id(member)}/"
    client.force_login(owner)
    page = client.get(path).content.decode()
    assert 'for="id_window_timezone"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    base = {"permissions": ["send_sms"], "window_timezone": "UTC"}
    for data, message in [
        ({"window_timezone": "Mars/Olympus"}, "Select a valid choice."),
        ({"window_start": "25:99", "window_end": "10:00"}, "Enter a valid time."),
        ({"window_start": "09:00", "window_end": "09:00"}, "The end must differ from the start"),
        ({"window_start": "09:00"}, "Give both the start and the end"),
        ({"window_weekdays": ["9"]}, "Select a valid choice."),
        ({"allowed_senders": ["abc"]}, "Select a valid choice."),
        ({"monthly_limit": "-1"}, "greater than or equal to 0"),
    ]:
        response = client.post(path, {**base, **data})
        assert response.status_code == 200, data
        assert message in response.content.decode(), data
    response = client.post(path, {**base, "window_weekdays": ["1", "2"], "window_start": "08:00",
                                  "window_end": "18:00", "window_timezone": "America/New_York"})  # fmt: skip
    assert response.status_code == 302
    m = Membership.objects.get(user=member)
    assert (m.window_weekdays, m.window_timezone, m.permissions()) == ([1, 2], "America/New_York", {"send_sms"})


def test_the_owner_row_and_own_row_have_no_actions_and_their_pages_refuse(client, owner, manager):
    client.force_login(manager)
    html = client.get(USERS).content.decode()
    for target in (owner, manager):
        row = html.split(f'id="member-{membership_id(target)}"')[1].split("</tr>")[0]
        assert "Edit" not in row
        assert "Deactivate" not in row
        response = client.get(f"{USERS}{membership_id(target)}/", follow=True)
        assert response.redirect_chain[-1][0] == USERS
        response = client.post(f"{USERS}{membership_id(target)}/deactivate/", follow=True)
        assert response.redirect_chain[-1][0] == USERS
    assert User.objects.get(pk=owner.pk).is_active
    assert User.objects.get(pk=manager.pk).is_active


def test_deactivate_reactivate_resend_and_cancel_pages(client, owner, invited, mailoutbox):
    member = make_member(owner, "member@example.com")
    client.force_login(owner)
    path = f"{USERS}{membership_id(member)}/deactivate/"
    assert b"Deactivate this user?" in client.get(path).content
    response = client.post(path, follow=True)
    assert b"is deactivated" in response.content
    assert not User.objects.get(pk=member.pk).is_active
    response = client.post(f"{USERS}{membership_id(member)}/reactivate/", follow=True)
    assert b"is active again" in response.content
    assert client.get(f"{USERS}{membership_id(member)}/reactivate/").status_code == 405

    response = client.post(f"{USERS}{membership_id(invited)}/resend/", follow=True)
    assert b"A new invitation is on its way" in response.content
    cancel = f"{USERS}{membership_id(invited)}/cancel/"
    assert b"Cancel this invitation?" in client.get(cancel).content
    response = client.post(cancel, follow=True)
    assert b"is canceled" in response.content
    assert not User.objects.filter(pk=invited.pk).exists()


def test_the_accept_page_moves_the_token_out_of_the_url_and_sets_the_password(client, invited, mailoutbox):
    path, _uid, token = invite_link(mailoutbox[0])
    response = client.get(path)
    assert response.status_code == 302
    assert token not in response["Location"]
    assert response["Location"].endswith("/set-password/")
    page = client.get(response["Location"]).content.decode()
    assert "Accept the invitation" in page
    assert invited.email in page
    assert 'name="csrfmiddlewaretoken"' in page
    weak = client.post(response["Location"], {"new_password1": "password", "new_password2": "password"})
    assert weak.status_code == 200
    assert b'data-testid="field-error"' in weak.content
    mismatch = client.post(response["Location"], {"new_password1": NEW_PASSWORD, "new_password2": "Other-Pass-99"})
    assert b"The two passwords do not match." in mismatch.content
    done = client.post(response["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/login/"
    assert User.objects.get(pk=invited.pk).is_active
    again = client.get(client.get(path)["Location"])
    assert b'data-testid="invitation-invalid"' in again.content


def test_the_accept_page_never_fails_on_a_bad_link(client, db):
    for path in [
        "/accounts/reset/invite-MQ/abc-def/",
        "/accounts/reset/invite-%FF%FE/abc/",
        "/accounts/reset/invite-zzzzzzzzzzzzzzzzzzzzzzzz/x/",
        "/accounts/reset/invite-MQ/set-password/",
    ]:
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        assert b'data-testid="invitation-invalid"' in response.content


BASELINE = re.compile(r'name="baseline" value="([^"]+)"')


def test_two_managers_editing_different_fields_at_once_both_keep_their_change(client, owner):
    """Each page sends only what its user changed (against the values it showed), so a save
    from a page opened before another manager's change does not undo that change."""
    member = make_member(owner, "member@example.com", send_sms=True, view_messages=True)
    path = f"{USERS}{membership_id(member)}/"
    client.force_login(owner)
    page_a = BASELINE.search(client.get(path).content.decode()).group(1)
    page_b = BASELINE.search(client.get(path).content.decode()).group(1)
    shown = {"permissions": ["send_sms", "view_messages"], "window_timezone": "UTC"}
    assert client.post(path, {**shown, "monthly_limit": "30", "baseline": page_a}).status_code == 302
    b = {**shown, "permissions": ["send_sms", "view_messages", "view_billing"], "baseline": page_b}
    assert client.post(path, b).status_code == 302
    m = Membership.objects.get(user=member)
    assert m.monthly_limit == Decimal("30"), "the first manager's limit survived the second save"
    assert m.permissions() == {"send_sms", "view_messages", "view_billing"}
    # One manager revokes send_sms, another (on an older page) grants view_contacts: both stay.
    page_c = BASELINE.search(client.get(path).content.decode()).group(1)
    now_shown = {"window_timezone": "UTC", "monthly_limit": "30", "baseline": page_c}
    client.post(path, {**now_shown, "permissions": ["view_messages", "view_billing"]})
    client.post(path, {**now_shown, "permissions": ["send_sms", "view_messages", "view_billing", "view_contacts"]})
    assert Membership.objects.get(user=member).permissions() == {"view_messages", "view_billing", "view_contacts"}
    # A form without a (valid) baseline compares with the member as it is now: full-state save.
    client.post(path, {"window_timezone": "UTC", "permissions": ["send_sms"], "baseline": "forged"})
    assert Membership.objects.get(user=member).permissions() == {"send_sms"}
    assert Membership.objects.get(user=member).monthly_limit is None


def test_concurrent_updates_serialise_on_the_membership_lock(owner, transactional_db):
    """Two managers' saves on PostgreSQL: the second waits for the first's row lock and reads
    its result, so the audit trail chains (the second's old value is the first's new one)."""
    import threading

    from django.db import connection

    member = make_member(owner, "member@example.com", monthly_limit=Decimal("1"))
    pk = membership_id(member)
    first_locked, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_first():
        try:
            from django.db import transaction

            with transaction.atomic():
                Membership.objects.select_for_update(no_key=True).get(pk=pk)
                first_locked.set()
                release.wait(5)
                subuser_update(actor=owner, membership_id=pk, monthly_limit=Decimal("10"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def second():
        try:
            first_locked.wait(5)
            subuser_update(actor=owner, membership_id=pk, monthly_limit=Decimal("20"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=slow_first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_locked.wait(5)
    release.set()
    for thread in threads:
        thread.join(10)
    assert not errors, errors
    assert Membership.objects.get(pk=pk).monthly_limit == Decimal("20")
    chain = [e.data["changes"]["monthly_limit"] for e in AuditEvent.objects.filter(action="subuser.updated")
             .order_by("id")]  # fmt: skip
    assert chain == [["1.0000", "10"], ["10.0000", "20"]]


def test_the_invitation_link_is_redacted_from_access_logs(invited, mailoutbox):
    """The link lives under /accounts/reset/, whose tokens the access log and the development
    server's log filter cut out."""
    from portal.gunicorn_logging import RESET_PATH
    from portal.log_filters import redact

    path, _uid, token = invite_link(mailoutbox[0])
    line = f'127.0.0.1 "GET {path} HTTP/1.1" 302'
    assert token not in redact(line)
    assert token not in RESET_PATH.sub(r"\1[redacted]/", line)


def test_a_manager_sees_no_actions_for_members_it_may_not_manage(client, owner, manager):
    richer = make_member(owner, "richer@example.com", view_billing=True)
    equal = make_member(owner, "equal@example.com", send_sms=True, view_messages=False)
    client.force_login(manager)
    html = client.get(USERS).content.decode()

    def row(user):
        return html.split(f'id="member-{membership_id(user)}"')[1].split("</tr>")[0]

    assert "Edit" not in row(richer)
    assert "only the account owner can change them" in row(richer)
    assert "Edit" in row(equal)
    assert "Deactivate" in row(equal)
    assert client.post(f"{USERS}{membership_id(richer)}/", {"permissions": []}, follow=True).redirect_chain
    assert Membership.objects.get(user=richer).view_billing
