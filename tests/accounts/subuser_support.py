"""Helpers for the sub-user tests: the invitation task joins tests/accounts/conftest.py's
`email_tasks` recorder (runs in-process by default, `hold()` keeps it to look at)."""

import re

import pytest

from accounts.models import Membership, User
from tests.conftest import PASSWORD

INVITE_LINK = re.compile(r"https?://[^/\s]+(/accounts/reset/invite-([^/\s]+)/([^/\s]+)/)")


@pytest.fixture(autouse=True)
def invitation_task(monkeypatch, email_tasks):
    from members import tasks

    task = tasks.send_invitation_email
    email_tasks._originals[task.name] = task.apply_async
    monkeypatch.setattr(
        task,
        "apply_async",
        lambda args=None, kwargs=None, **options: email_tasks._apply_async(task, args, kwargs, **options),
    )
    return email_tasks


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
