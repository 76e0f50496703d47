"""Price rules name their country as parse_recipient answers it: an ISO 3166 code in capitals
that phone numbers are recognised in. "gb" is saved as "GB", and "UK" (no such code) is refused
rather than saved to match no destination, its messages silently charged the default price."""

from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from accounts.models import User
from core.phone import parse_recipient
from messaging.admin import PriceRuleAdmin
from messaging.models import PriceRule
from messaging.pricing import PriceList

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_form():
    staff = User.objects.create_superuser("staff@example.com", "Correct-Horse-42")
    request = RequestFactory().post("/admin/messaging/pricerule/add/")
    request.user = staff
    model_admin = PriceRuleAdmin(PriceRule, site)

    def make(country: str, price: str = "5"):
        form = model_admin.get_form(request)(data={"country": country, "price_per_segment": price})
        if form.is_valid():
            model_admin.save_model(request, form.save(commit=False), form, change=False)
        return form

    return make


@pytest.mark.parametrize("typed", ["gb", "Gb", "GB"])
def test_a_rule_typed_in_any_case_prices_its_countrys_numbers(admin_form, typed):
    form = admin_form(typed)
    assert form.is_valid(), form.errors
    __, country = parse_recipient("+447400123456")
    assert PriceList().per_segment(country) == Decimal("5")
    assert PriceRule.objects.get(price_per_segment=5).country == "GB"


@pytest.mark.parametrize("typed", ["UK", "EU", "ZZ", "1"])
def test_a_code_phone_numbers_are_not_recognised_in_is_refused_in_the_admin(admin_form, typed):
    form = admin_form(typed)
    assert not form.is_valid()
    assert "not a country code" in " ".join(form.errors["country"])
    assert not PriceRule.objects.filter(price_per_segment=5).exists()


def test_the_default_rule_has_no_country(admin_form):
    PriceRule.objects.filter(country="").delete()
    form = admin_form("", "2")
    assert form.is_valid(), form.errors
    assert PriceList().per_segment("PL") == Decimal("2")


def test_a_rule_for_a_country_that_has_one_already_is_refused(admin_form):
    PriceRule.objects.create(country="GB", price_per_segment=Decimal("3"))
    form = admin_form("gb")
    assert not form.is_valid()
    assert PriceRule.objects.get(country="GB").price_per_segment == Decimal("3")


def test_the_model_normalises_and_validates_the_code():
    rule = PriceRule(country=" pl", price_per_segment=Decimal("1"))
    rule.full_clean()
    assert rule.country == "PL"
    with pytest.raises(ValidationError) as refused:
        PriceRule(country="uk", price_per_segment=Decimal("1")).full_clean()
    assert "country" in refused.value.message_dict
    PriceRule.objects.create(country="de", price_per_segment=Decimal("1"))  # saved from code, not a form
    assert PriceRule.objects.filter(country="DE").exists()
