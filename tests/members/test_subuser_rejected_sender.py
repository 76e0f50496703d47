"""Found by review, now fixed.

A member limited to a sender name that staff later rejected is restricted to nothing usable.
When the owner edits anything else on its page (here only the monthly limit), the unrendered
rejected name counts as "unticked" by the user (`_edit_initial` puts every allowed sender in the
baseline, the form offers only approved ones), so the save writes allowed_senders = [] — which
means ALL the account's approved names (SPEC §3). A silent widening nobody asked for."""

import re

import pytest

from accounts.models import Membership
from messaging.models import SenderName
from messaging.services.senders import sender_names_review
from tests.members.support import make_member

pytestmark = pytest.mark.django_db


def test_editing_the_limit_does_not_widen_a_member_to_all_sender_names(client, owner):
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
