"""Found by review, now fixed.

A manager limited to some sender names invites a member who may use every sender name:
the invitation path never applies the sender-name rule (README "Sub-users": a manager gives
"only sender names it may use itself"; SPEC §3: a sub-user never grants more than it has)."""

import pytest

from accounts.models import Membership
from members.services import subuser_invite
from messaging.models import SenderName
from tests.members.support import make_member

pytestmark = pytest.mark.django_db


def test_a_sender_restricted_manager_cannot_invite_an_unrestricted_member(owner):
    account = owner.membership.account
    shop = SenderName.objects.create(account=account, name="Shop", status="approved")
    SenderName.objects.create(account=account, name="Bank", status="approved")
    manager = make_member(owner, "manager@example.com", manage_users=True, send_sms=True)
    Membership.objects.get(user=manager).allowed_senders.set([shop])

    try:
        membership = subuser_invite(
            actor=manager,
            email="new@example.com",
            permissions=["send_sms"],
            monthly_limit=None,
            domain="portal.example",
            use_https=True,
        )
    except Exception:
        return  # refused: fine
    allowed = set(membership.allowed_senders.values_list("name", flat=True))
    # Empty means "all the account's approved names" (SPEC §3), i.e. also "Bank".
    assert allowed, "invitee may use every sender name"
    assert allowed <= {"Shop"}
