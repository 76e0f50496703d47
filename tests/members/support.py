"""Helpers for the sub-user tests (the invitation task is recorded by tests/members/conftest.py)."""

import re

from accounts.models import Membership, User
from tests.conftest import PASSWORD

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
