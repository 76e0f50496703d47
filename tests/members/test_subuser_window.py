"""Found by review, now fixed.

SPEC §3 counts the sending window among a sub-user's limits and says a sub-user never grants
more than it has; a manager confined to weekday office hours can still give a member an
always-open window (clear it on edit, and every invitation starts with none)."""

from datetime import time

import pytest

from accounts.models import Membership, User
from core.errors import ApplicationError
from members.services import subuser_update
from tests.members.support import make_member

pytestmark = pytest.mark.django_db


def test_a_windowed_manager_cannot_open_a_members_window_wider_than_its_own(owner):
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
