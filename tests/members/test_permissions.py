"""Who may manage whom (members/services/rules.py): no escalation (a manager grants only what it
holds, within its own limits, sender names and window), owner and self protection, tenant scoping."""

from datetime import time
from decimal import Decimal

import pytest

from accounts.models import Membership, User
from core.errors import ApplicationError
from members.services import (
    subuser_deactivate,
    subuser_invitation_cancel,
    subuser_invitation_resend,
    subuser_reactivate,
    subuser_update,
)
from messaging.models import SenderName
from tests.members.support import USERS, invite, make_member, membership_id, update

pytestmark = pytest.mark.django_db


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


def test_a_limited_manager_cannot_hand_send_sms_to_an_unlimited_member(owner):
    """A manager with a monthly limit (or a sender-name restriction, below) cannot give send_sms to a
    member the owner left without one: that member would send more, and under more names, than the
    manager could ever grant. The rule looks at the limits too, not only at the permission flags."""
    manager = make_member(owner, "manager@example.com", manage_users=True, send_sms=True, monthly_limit=Decimal("100"))
    member = make_member(owner, "member@example.com", send_sms=False, view_messages=True, monthly_limit=None)
    manager = User.objects.select_related("membership").get(pk=manager.pk)

    with pytest.raises(ApplicationError):
        subuser_update(
            actor=manager, membership_id=Membership.objects.get(user=member).pk, permissions={"send_sms": True}
        )
    m = Membership.objects.get(user=member)
    assert not (m.send_sms and m.monthly_limit is None)


def test_a_sender_restricted_manager_cannot_hand_send_sms_to_an_all_senders_member(owner):
    shop = SenderName.objects.create(account=owner.membership.account, name="Shop", status="approved")
    SenderName.objects.create(account=owner.membership.account, name="Bank", status="approved")
    manager = make_member(owner, "manager@example.com", manage_users=True, send_sms=True)
    Membership.objects.get(user=manager).allowed_senders.set([shop])
    member = make_member(owner, "member@example.com", send_sms=False, view_messages=True)
    manager = User.objects.select_related("membership").get(pk=manager.pk)

    with pytest.raises(ApplicationError):
        subuser_update(
            actor=manager, membership_id=Membership.objects.get(user=member).pk, permissions={"send_sms": True}
        )


def test_a_windowed_manager_cannot_open_a_members_window_wider_than_its_own(owner):
    """The sending window is one of a sub-user's limits (SPEC §3), and a sub-user never grants more
    than it has: a manager confined to weekday office hours cannot give a member an always-open
    window."""
    office = {"window_weekdays": [1, 2, 3, 4, 5], "window_start": time(9), "window_end": time(17)}
    manager = make_member(owner, "manager@example.com", manage_users=True, send_sms=True, **office)
    member = make_member(owner, "member@example.com", send_sms=True, **office)
    manager = User.objects.select_related("membership").get(pk=manager.pk)

    with pytest.raises(ApplicationError):
        subuser_update(
            actor=manager,
            membership_id=Membership.objects.get(user=member).pk,
            window_weekdays=[],
            window_start=None,
            window_end=None,
        )


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
