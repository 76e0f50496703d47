"""Destination countries and prices: computed once per request, not per recipient."""

from decimal import Decimal

import phonenumbers
from django.conf import settings

from messaging.models import PriceRule


class PriceList:
    """Points per segment by ISO country code, loaded in one query."""

    def __init__(self) -> None:
        rules = dict(PriceRule.objects.values_list("country", "price_per_segment"))
        self.default = rules.pop("", None)
        if self.default is None:
            self.default = Decimal(settings.SMS_DEFAULT_PRICE_PER_SEGMENT)
        self.by_country = rules

    def per_segment(self, country: str) -> Decimal:
        return self.by_country.get(country, self.default)


def parse_recipient(raw: str) -> tuple[str, str] | None:
    """(E.164, ISO country) for a valid number written in international format, else None."""
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    if not value or len(value) > 32:
        return None
    if value.startswith("00"):
        value = "+" + value[2:]
    elif not value.startswith("+"):
        value = "+" + value  # API clients often omit the plus of an international number
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(number) or "",
    )
