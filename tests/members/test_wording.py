"""The Users pages write limits as people do: "5", never "5.0000"."""

from decimal import Decimal

import pytest

from tests.members.support import make_member

pytestmark = pytest.mark.django_db


def test_a_monthly_limit_is_shown_and_edited_without_trailing_zeros(client, owner):
    member = make_member(owner, "limited@example.com", send_sms=True, monthly_limit=Decimal("5"))
    client.force_login(owner)
    listed = client.get("/accounts/users/").content.decode()
    assert "of 5</span>" in listed
    assert "5.0000" not in listed
    edit = client.get(f"/accounts/users/{member.membership.pk}/").content.decode()
    assert 'value="5"' in edit
    assert "5.0000" not in edit
