"""A user's phone (where the test SMS goes) is stored only when the one phone rule, core/phone.py,
accepts it: at account creation, from the command line and in the admin."""

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from accounts.admin import UserEditForm
from accounts.models import User
from core.errors import ApplicationError
from core.phone import EXAMPLE_MOBILE
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

DRAMA = "+447700900123"  # Ofcom's range for drama: `phonenumbers` calls it invalid


def test_an_account_is_not_opened_with_an_owner_phone_the_product_refuses(make_account):
    with pytest.raises(ApplicationError) as refused:
        make_account(email="drama@example.com", phone=DRAMA)
    assert refused.value.code == "invalid_phone"
    assert not User.objects.filter(email="drama@example.com").exists()


def test_the_owner_phone_is_stored_in_e164(make_account):
    account = make_account(phone="+61 491 570 156")
    assert account.memberships.get().user.phone == EXAMPLE_MOBILE


def test_create_account_command_refuses_a_phone_the_product_refuses():
    with pytest.raises(CommandError, match="not a valid phone number"):
        call_command("create_account", "--email", "cli@example.com", "--password", PASSWORD, "--phone", DRAMA)
    assert not User.objects.filter(email="cli@example.com").exists()


def test_staff_cannot_store_a_phone_the_product_refuses(owner):
    data = {**model_to_dict(owner), "phone": DRAMA}
    form = UserEditForm(data=data, instance=owner)
    assert not form.is_valid()
    assert "phone" in form.errors
    form = UserEditForm(data={**data, "phone": "+61 491 570 156"}, instance=owner)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == EXAMPLE_MOBILE
