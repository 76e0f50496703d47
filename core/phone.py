"""Phone numbers: the one place they are parsed (recipients, sign-in phones, contacts)."""

import functools
import re

import phonenumbers

from core.errors import ApplicationError


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
    region = valid_region(number)
    if region is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), region


def valid_region(number) -> str | None:
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


def normalize_phone(raw: str) -> str:
    """E.164 from what a person typed; ApplicationError when it is not a valid mobile-capable number."""
    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException as exc:
        raise ApplicationError(
            "Enter the number in international format, starting with + and the country code.",
            code="invalid_phone",
            errors={"phone": ["Not a phone number in international format."]},
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ApplicationError(
            "This is not a valid phone number.", code="invalid_phone", errors={"phone": ["Not a valid number."]}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_label(region: str) -> str:
    """A country by name and calling code, as people look it up: "United Kingdom (+44)" for GB
    (phonenumbers' own English names); the code itself when phonenumbers does not know it."""
    from phonenumbers import geocoder

    example = phonenumbers.example_number(region)
    if example is None:
        return region
    name = geocoder.country_name_for_number(example, "en") or region
    return f"{name} (+{example.country_code})"
