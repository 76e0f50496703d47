from decimal import Decimal

import pytest

from accounts.models import User
from tests.members.support import invite, make_member


@pytest.fixture(autouse=True)
def _email_tasks_in_process(email_tasks):
    """E-mail tasks queued by these tests, the invitation's too, run in this process
    (tests/conftest.py `EmailTasks`)."""
    from members import tasks

    email_tasks.intercept(tasks.send_invitation_email)


@pytest.fixture
def invited(owner, mailoutbox, django_capture_on_commit_callbacks):
    """An invitation sent (and its e-mail delivered by the in-process task)."""
    with django_capture_on_commit_callbacks(execute=True):
        membership = invite(owner, permissions=["send_sms", "view_messages"], monthly_limit=Decimal("25"))
    return membership.user


@pytest.fixture
def manager(owner) -> User:
    return make_member(
        owner, "manager@example.com", manage_users=True, send_sms=True, view_messages=True, view_billing=False
    )
