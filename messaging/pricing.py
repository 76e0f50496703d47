"""Destination countries and prices: computed once per request, not per recipient."""

import functools
import re
import time
from decimal import Decimal

import phonenumbers
from django.conf import settings

from messaging.models import PriceRule

PRICE_CACHE_SECONDS = 30
_cached: tuple[float, dict] | None = None


def _rules() -> dict:
    """Price rules change rarely: a process keeps them for 30 seconds (a new price applies to
    requests from then on; a request is always priced from one consistent list)."""
    global _cached
    now = time.monotonic()
    if _cached is None or now - _cached[0] > PRICE_CACHE_SECONDS or not settings.API_LOCAL_CACHE_SECONDS:
        _cached = (now, dict(PriceRule.objects.values_list("country", "price_per_segment")))
    return dict(_cached[1])


class PriceList:
    """Points per segment by ISO country code, loaded once per request (at most one query)."""

    def __init__(self) -> None:
        rules = _rules()
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
    region = _valid_region(number)
    if region is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), region


def _valid_region(number) -> str | None:
    """The region of a valid number, or None: what region_code_for_number followed by
    is_valid_number_for_region answer, with each number's patterns matched once instead of twice.

    region_code_for_number picks, among the regions sharing the country code, the first whose
    leading digits match or whose number patterns do (for +44 7400…, GB: a full match against
    GB's patterns), and is_valid_number_for_region then matches the same patterns again. Here a
    region without leading digits is taken if, and only if, the number is valid for it; one
    whose leading digits match is the answer whether or not the number is valid there."""
    regions = phonenumbers.region_codes_for_country_code(number.country_code)
    if len(regions) == 1:
        return regions[0] if phonenumbers.is_valid_number_for_region(number, regions[0]) else None
    national = phonenumbers.national_significant_number(number)
    for region in regions:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if _leading_digits(metadata.leading_digits).match(national):
                return region if phonenumbers.is_valid_number_for_region(number, region) else None
        elif phonenumbers.is_valid_number_for_region(number, region):
            return region
    return None


@functools.cache
def _leading_digits(pattern: str) -> re.Pattern:
    return re.compile(pattern)
