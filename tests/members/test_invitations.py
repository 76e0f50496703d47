"""Invitations (SPEC §3, §4.7): what an invitation creates and sends, accepting it once, resending
and canceling, and the sender names an invitation may grant."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Membership, User
from audit.models import AuditEvent
from core.errors import ApplicationError
from members import services as services_users
from members.services import (
    invitation_accept,
    subuser_invitation_cancel,
    subuser_invitation_resend,
    subuser_invite,
)
from messaging.models import SenderName
from tests.members.support import NEW_PASSWORD, invite, invite_link, make_member, membership_id

pytestmark = pytest.mark.django_db


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


def test_inviting_a_registered_address_makes_no_membership_and_emails_that_person_instead(
    owner, make_account, mailoutbox, django_capture_on_commit_callbacks
):
    other_account = make_account(name="Other Customer Ltd")
    elsewhere = other_account.memberships.get().user
    here = make_member(owner, "member@example.com")
    account = owner.membership.account
    members_before = set(Membership.objects.values_list("pk", "user_id", "account_id", "role"))
    for user, typed in ((elsewhere, elsewhere.email.upper()), (here, here.email)):
        mailoutbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert invite(owner, email=typed, permissions=["send_sms", "view_billing"]) is None
        [mail] = mailoutbox
        assert mail.to == [user.email]
        assert "already has a user" in mail.body
        assert "https://portal.example/accounts/login/" in mail.body
        for private in (account.name, owner.email, other_account.name, "/accounts/reset/"):
            assert private not in mail.subject + mail.body, private
        event = AuditEvent.objects.filter(action="subuser.invitation_not_sent").latest("id")
        assert (event.account, event.actor, event.data["email"]) == (account, owner, user.email)
        assert event.object_id == ""  # nothing of another account's user on this account's trail
    assert set(Membership.objects.values_list("pk", "user_id", "account_id", "role")) == members_before
    assert not AuditEvent.objects.filter(action="subuser.invited").exists()


def test_a_registered_address_is_told_at_most_once_an_hour(
    owner, make_account, mailoutbox, django_capture_on_commit_callbacks
):
    elsewhere = make_account().memberships.get().user
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            invite(owner, email=elsewhere.email)
    assert [mail.to for mail in mailoutbox] == [[elsewhere.email]]
    assert AuditEvent.objects.filter(action="subuser.invitation_not_sent").count() == 3


def test_invitations_to_registered_addresses_count_against_the_hourly_limit(owner, make_account, monkeypatch):
    monkeypatch.setattr("members.services.invitations.INVITES_PER_ACCOUNT_PER_HOUR", 2)
    elsewhere = make_account().memberships.get().user
    invite(owner, email=elsewhere.email)
    invite(owner, email=elsewhere.email)
    for email in ("new@example.com", elsewhere.email):  # refused alike: the limit comes first
        with pytest.raises(ApplicationError) as excinfo:
            invite(owner, email=email)
        assert excinfo.value.code == "rate_limited"
    assert not User.objects.filter(email="new@example.com").exists()


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


def test_a_sender_restricted_manager_passes_its_sender_names_on_to_the_invitee(owner):
    """A manager limited to some sender names cannot invite a member who may use every sender name
    (an empty list means all the account's approved names, SPEC §3): the invitee gets the
    manager's own names."""
    account = owner.membership.account
    shop = SenderName.objects.create(account=account, name="Shop", status="approved")
    SenderName.objects.create(account=account, name="Bank", status="approved")
    manager = make_member(owner, "manager@example.com", manage_users=True, send_sms=True)
    Membership.objects.get(user=manager).allowed_senders.set([shop])

    membership = subuser_invite(
        actor=manager,
        email="new@example.com",
        permissions=["send_sms"],
        monthly_limit=None,
        domain="portal.example",
        use_https=True,
    )
    assert set(membership.allowed_senders.values_list("name", flat=True)) == {"Shop"}


def test_the_invitation_link_is_redacted_from_access_logs(invited, mailoutbox):
    """The link lives under /accounts/reset/, whose tokens the access log and the development
    server's log filter cut out."""
    from portal.gunicorn_logging import RESET_PATH
    from portal.log_filters import redact

    path, _uid, token = invite_link(mailoutbox[0])
    line = f'127.0.0.1 "GET {path} HTTP/1.1" 302'
    assert token not in redact(line)
    assert token not in RESET_PATH.sub(r"\1[redacted]/", line)


def test_a_new_sub_user_sees_times_in_their_sending_windows_zone(invited, mailoutbox, owner):
    Membership.objects.filter(user=invited).update(window_timezone="America/New_York")
    _path, uid, token = invite_link(mailoutbox[0])
    user = invitation_accept(uidb64=uid, token=token, password=NEW_PASSWORD)
    assert User.objects.get(pk=user.pk).time_zone == "America/New_York"
    assert owner.time_zone == "UTC"  # an owner starts with UTC
