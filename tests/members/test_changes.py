"""Changing a member: limits, sending window and sender names are validated and saved, each change
audited with its old and new values (no secrets), and a page saves only what its user changed."""

import re
from datetime import time
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Membership, User
from audit.models import AuditEvent
from core.errors import ApplicationError
from members.services import (
    invitation_accept,
    subuser_deactivate,
    subuser_invitation_cancel,
    subuser_invitation_resend,
    subuser_reactivate,
)
from messaging.models import SenderName
from messaging.services.senders import sender_names_review
from tests.members.support import NEW_PASSWORD, USERS, invite, invite_link, make_member, membership_id, update

pytestmark = pytest.mark.django_db


BASELINE = re.compile(r'name="baseline" value="([^"]+)"')


def test_update_saves_limits_window_and_senders_and_audits_old_and_new_values(owner):
    account = owner.membership.account
    shop = SenderName.objects.create(account=account, name="Shop", status="approved")
    SenderName.objects.create(account=account, name="Other", status="approved")
    member = make_member(owner, "member@example.com", monthly_limit=Decimal("10"))
    Membership.objects.filter(user=member).update(
        monthly_spent=Decimal("3"), spent_month=timezone.now().date().replace(day=1)
    )
    update(
        owner,
        member,
        permissions=["send_sms", "view_billing"],
        monthly_limit=None,
        window_weekdays=[5, 1, 1],
        window_start=time(9),
        window_end=time(17, 30),
        window_timezone="Europe/Warsaw",
        allowed_sender_ids=[shop.pk],
    )
    m = Membership.objects.get(user=member)
    assert m.monthly_limit is None
    assert m.monthly_spent == Decimal("3")  # the spend is never overwritten
    assert (m.window_weekdays, m.window_start, m.window_end, m.window_timezone) == (
        [1, 5],
        time(9),
        time(17, 30),
        "Europe/Warsaw",
    )
    assert list(m.allowed_senders.all()) == [shop]
    event = AuditEvent.objects.get(action="subuser.updated")
    assert event.actor == owner
    assert event.object_id == str(member.pk)
    changes = event.data["changes"]
    assert changes["view_messages"] == [True, False]
    assert changes["view_billing"] == [False, True]
    assert changes["monthly_limit"] == ["10.0000", None]
    assert changes["window_weekdays"] == [[], [1, 5]]
    assert changes["window_start"] == [None, "09:00"]
    assert changes["window_timezone"] == ["UTC", "Europe/Warsaw"]
    assert changes["allowed_senders"] == [[], ["Shop"]]
    assert "send_sms" not in changes  # unchanged fields are not listed

    update(owner, member, permissions=["send_sms", "view_billing"], window_timezone="Europe/Warsaw")  # no change
    assert AuditEvent.objects.filter(action="subuser.updated").count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window_timezone": "Mars/Olympus"}, "window_timezone"),
        ({"window_timezone": "../../etc/passwd"}, "window_timezone"),
        ({"window_start": time(9), "window_end": time(9)}, "window_end"),
        ({"window_start": time(9), "window_end": None}, "window_end"),
        ({"window_weekdays": [0, 8]}, "window_weekdays"),
        ({"monthly_limit": Decimal("-1")}, "monthly_limit"),
        ({"allowed_sender_ids": [999999]}, "allowed_senders"),
    ],
)
def test_update_refuses_bad_limits_with_field_errors(owner, changes, field):
    member = make_member(owner, "member@example.com")
    with pytest.raises(ApplicationError) as excinfo:
        update(owner, member, **changes)
    assert field in excinfo.value.errors


def test_senders_must_be_the_accounts_approved_ones(owner, make_account):
    other = make_account().memberships.get().user.membership.account
    foreign = SenderName.objects.create(account=other, name="Foreign", status="approved")
    pending = SenderName.objects.create(account=owner.membership.account, name="Pending", status="pending")
    member = make_member(owner, "member@example.com")
    for sender in (foreign, pending):
        with pytest.raises(ApplicationError):
            update(owner, member, allowed_sender_ids=[sender.pk])
    assert not Membership.objects.get(user=member).allowed_senders.exists()


def test_editing_the_limit_does_not_widen_a_member_to_all_sender_names(client, owner):
    """A member limited to a sender name staff later rejected keeps its restriction when the owner
    changes something else on its page: the rejected name, which the form does not offer, does not
    count as unticked (an empty list would mean every approved name, SPEC §3)."""
    account = owner.membership.account
    old = SenderName.objects.create(account=account, name="Old", status="approved")
    SenderName.objects.create(account=account, name="Bank", status="approved")
    member = make_member(owner, "member@example.com", send_sms=True)
    m = Membership.objects.get(user=member)
    m.allowed_senders.set([old])
    sender_names_review(sender_ids=[old.pk], approve=False, actor=None)

    client.force_login(owner)
    page = client.get(f"/accounts/users/{m.pk}/").content.decode()
    baseline = re.search(r'name="baseline" value="([^"]+)"', page).group(1)
    # What the browser submits: the fields as shown, with only the limit changed.
    response = client.post(
        f"/accounts/users/{m.pk}/",
        {
            "baseline": baseline,
            "permissions": ["send_sms", "view_messages"],
            "monthly_limit": "50",
            "window_timezone": "UTC",
        },
    )
    assert response.status_code == 302
    m.refresh_from_db()
    assert str(m.monthly_limit) == "50.0000"
    assert list(m.allowed_senders.values_list("name", flat=True)) != [], "member now may use every sender name"


def test_each_change_writes_an_audit_event_without_secrets(owner, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        membership = invite(owner, email="audited@example.com", permissions=["send_sms"], monthly_limit=Decimal("5"))
        subuser_invitation_resend(actor=owner, membership_id=membership.pk, domain="x", use_https=False)
    _path, uid, token = invite_link(mailoutbox[-1])
    invitation_accept(uidb64=uid, token=token, password=NEW_PASSWORD)
    member = User.objects.get(email="audited@example.com")
    update(owner, member, permissions=["send_sms", "view_messages"])
    subuser_deactivate(actor=owner, membership_id=membership.pk)
    subuser_reactivate(actor=owner, membership_id=membership.pk)
    other = invite(owner, email="canceled@example.com")
    subuser_invitation_cancel(actor=owner, membership_id=other.pk)

    events = AuditEvent.objects.filter(account=owner.membership.account).order_by("created_at", "id")
    actions = [e.action for e in events if e.action.startswith(("subuser.", "user."))]
    assert actions == [
        "subuser.invited",
        "subuser.invitation_resent",
        "subuser.invitation_accepted",
        "subuser.updated",
        "user.deactivated",
        "user.reactivated",
        "subuser.invited",
        "subuser.invitation_canceled",
    ]
    invited_event = events.filter(action="subuser.invited").first()
    assert invited_event.data == {"email": "audited@example.com", "permissions": ["send_sms"], "monthly_limit": "5"}
    dump = repr(list(events.values()))
    assert token not in dump
    assert NEW_PASSWORD not in dump


def test_two_managers_editing_different_fields_at_once_both_keep_their_change(client, owner):
    """Each page sends only what its user changed (against the values it showed), so a save
    from a page opened before another manager's change does not undo that change."""
    member = make_member(owner, "member@example.com", send_sms=True, view_messages=True)
    path = f"{USERS}{membership_id(member)}/"
    client.force_login(owner)
    page_a = BASELINE.search(client.get(path).content.decode()).group(1)
    page_b = BASELINE.search(client.get(path).content.decode()).group(1)
    shown = {"permissions": ["send_sms", "view_messages"], "window_timezone": "UTC"}
    assert client.post(path, {**shown, "monthly_limit": "30", "baseline": page_a}).status_code == 302
    b = {**shown, "permissions": ["send_sms", "view_messages", "view_billing"], "baseline": page_b}
    assert client.post(path, b).status_code == 302
    m = Membership.objects.get(user=member)
    assert m.monthly_limit == Decimal("30"), "the first manager's limit survived the second save"
    assert m.permissions() == {"send_sms", "view_messages", "view_billing"}
    # One manager revokes send_sms, another (on an older page) grants view_contacts: both stay.
    page_c = BASELINE.search(client.get(path).content.decode()).group(1)
    now_shown = {"window_timezone": "UTC", "monthly_limit": "30", "baseline": page_c}
    client.post(path, {**now_shown, "permissions": ["view_messages", "view_billing"]})
    client.post(path, {**now_shown, "permissions": ["send_sms", "view_messages", "view_billing", "view_contacts"]})
    assert Membership.objects.get(user=member).permissions() == {"view_messages", "view_billing", "view_contacts"}
    # A form without a (valid) baseline compares with the member as it is now: full-state save.
    client.post(path, {"window_timezone": "UTC", "permissions": ["send_sms"], "baseline": "forged"})
    assert Membership.objects.get(user=member).permissions() == {"send_sms"}
    assert Membership.objects.get(user=member).monthly_limit is None
