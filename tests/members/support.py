"""Helpers for the sub-user tests (the invitation task is recorded by tests/members/conftest.py)."""

import re

from accounts.models import Membership, User
from members.services import subuser_invite, subuser_update
from tests.conftest import PASSWORD

NEW_PASSWORD = "Invited-Person-77"
USERS = "/accounts/users/"
INVITE_LINK = re.compile(r"https?://[^/\s]+(/accounts/reset/invite-([^/\s]+)/([^/\s]+)/)")


def make_member(owner: User, email: str, *, password: str | None = PASSWORD, **fields) -> User:
    """An active sub-user of the owner's account (fields: permission flags, limits)."""
    user = User.objects.create_user(email, password)
    Membership.objects.create(user=user, account=owner.membership.account, role=Membership.Role.SUBUSER, **fields)
    return User.objects.select_related("membership__account").get(pk=user.pk)


def invite_link(mail) -> tuple[str, str, str]:
    """(path, uidb64, token) of the invitation link in an e-mail."""
    match = INVITE_LINK.search(mail.body)
    assert match, mail.body
    return match.group(1), match.group(2), match.group(3)


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
