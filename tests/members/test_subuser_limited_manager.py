"""Found by review, now fixed.

A manager with a monthly limit (or a sender-name restriction) can still edit a member the owner
left without a limit (or with every sender name) and give it send_sms: the result is a member that
sends more, and under more names, than the manager itself could ever grant. `_check_manageable`
looks only at permission flags, never at the limits the README says a manager cannot exceed."""

from decimal import Decimal

import pytest

from accounts.models import Membership, User
from core.errors import ApplicationError
from members.services import subuser_update
from messaging.models import SenderName
from tests.members.support import make_member

pytestmark = pytest.mark.django_db


def test_a_limited_manager_cannot_hand_send_sms_to_an_unlimited_member(owner):
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
