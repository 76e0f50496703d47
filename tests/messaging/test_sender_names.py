"""One rule for the sender names a member may send as (messaging.selectors.sender_names_allowed):
the send service and the send page agree."""

import pytest
from django.conf import settings

from accounts.models import Membership, User
from core.errors import ApplicationError
from messaging.models import SenderName
from messaging.selectors import sender_names_allowed
from messaging.services.senders import sender_names_review
from messaging.services.submit import message_submit
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def member(owner, **fields) -> Membership:
    user = User.objects.create_user(f"sub{User.objects.count()}@example.com", PASSWORD)
    return Membership.objects.create(
        user=user, account=owner.membership.account, role=Membership.Role.SUBUSER, send_sms=True, **fields
    )


def names(membership: Membership):
    return sender_names_allowed(account_id=membership.account_id, membership=membership)


def offered(client, user) -> list[str]:
    client.force_login(user)
    form = client.get("/messages/send/").context["form"]
    return [value for value, _ in form.fields["sender"].choices]


def submit(user, **kwargs):
    return message_submit(
        account_id=user.membership.account_id,
        user=user,
        caller=f"user:{user.pk}",
        to=["+447400100001"],
        text="Hi",
        **kwargs,
    )


def test_the_owner_and_an_unlimited_member_may_use_every_approved_name(owner, client):
    account = owner.membership.account
    assert names(owner.membership).names == []
    assert names(owner.membership).default == settings.SMS_DEFAULT_SENDER
    for name, status in (("Zeta", "approved"), ("Acme", "approved"), ("Wait", "pending"), ("Gone", "rejected")):
        SenderName.objects.create(account=account, name=name, status=status)
    unlimited = member(owner)
    for membership in (owner.membership, unlimited):
        assert names(membership).names == ["Acme", "Zeta"]
        assert names(membership).default == "Acme"
        assert offered(client, membership.user) == ["", "Acme", "Zeta"]


def test_a_limited_member_may_use_its_approved_names_only(owner, client):
    account = owner.membership.account
    acme = SenderName.objects.create(account=account, name="Acme", status="approved")
    SenderName.objects.create(account=account, name="Bank", status="approved")
    wait = SenderName.objects.create(account=account, name="Wait", status="pending")
    limited = member(owner)
    limited.allowed_senders.set([acme, wait])
    assert names(limited).names == ["Acme"]
    assert names(limited).approved == {"Acme", "Bank"}
    assert offered(client, limited.user) == ["", "Acme"]
    assert submit(limited.user).messages[0].sender == "Acme"
    with pytest.raises(ApplicationError, match="You may not send as"):
        submit(limited.user, sender="Bank")
    with pytest.raises(ApplicationError, match="not approved for this account"):
        submit(limited.user, sender="Wait")


def test_a_member_limited_to_names_no_longer_approved_may_send_as_none(owner, client):
    """Not widened to the account's names (SPEC §3: only an empty list means all of them): the
    send page offers no name, as the send service refuses every one."""
    account = owner.membership.account
    old = SenderName.objects.create(account=account, name="Old", status="approved")
    SenderName.objects.create(account=account, name="Bank", status="approved")
    limited = member(owner)
    limited.allowed_senders.set([old])
    sender_names_review(sender_ids=[old.pk], approve=False, actor=None)

    assert names(limited).names == []
    assert names(limited).default is None
    assert offered(client, limited.user) == [""]
    for sender in (None, "Bank", "Old"):
        with pytest.raises(ApplicationError) as refused:
            submit(limited.user, sender=sender)
        assert refused.value.code == "sender_not_allowed"
