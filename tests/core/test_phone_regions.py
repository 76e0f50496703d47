"""core.phone.valid_region answers what phonenumbers' region_code_for_number followed by
is_valid_number_for_region answers, for every region's example numbers and variations of them."""

import random

import phonenumbers
import pytest

from core.phone import parse_recipient, valid_region


def library_answer(number) -> str | None:
    region = phonenumbers.region_code_for_number(number)
    if region is None or not phonenumbers.is_valid_number_for_region(number, region):
        return None
    return region


def sample_numbers():
    rng = random.Random(20261202)
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.TOLL_FREE,
        ):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            numbers.append(e164)
            for _ in range(3):  # the same country code, other digits: valid or not, other regions
                digits = list(e164[1:])
                position = rng.randrange(len(str(example.country_code)), len(digits))
                digits[position] = str(rng.randrange(10))
                numbers.append("+" + "".join(digits))
            numbers.append(e164[:-1])  # too short
            numbers.append(e164 + "7")  # too long
    return numbers


NUMBERS = sample_numbers()


def test_the_sample_covers_shared_country_codes_and_invalid_numbers():
    parsed = [phonenumbers.parse(n, None) for n in NUMBERS]
    assert len(NUMBERS) > 1500
    assert sum(library_answer(p) is None for p in parsed) > 300
    shared = {p.country_code for p in parsed if len(phonenumbers.region_codes_for_country_code(p.country_code)) > 1}
    assert {1, 7, 44, 61, 262, 590} <= shared


@pytest.mark.parametrize("chunk", range(4))
def test_valid_region_agrees_with_the_library(chunk):
    for raw in NUMBERS[chunk::4]:
        number = phonenumbers.parse(raw, None)
        assert valid_region(number) == library_answer(number), raw


def test_parse_recipient_gives_the_number_and_its_region():
    assert parse_recipient("+447400123456") == ("+447400123456", "GB")
    assert parse_recipient("+14165552671") == ("+14165552671", "CA")
    assert parse_recipient("+12015550123") == ("+12015550123", "US")
    assert parse_recipient("+441481256789")[1] == "GG"
    assert parse_recipient("+4474001234") is None
