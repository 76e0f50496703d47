"""core.phone.parse_recipient with a default region (the account's default country, in the
portal): national numbers are read in that country; without one only international numbers are."""

import pytest

from core.phone import country_choices, number_refusal, parse_recipient, split_numbers


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        ("07400 123456", "GB", ("+447400123456", "GB")),
        ("(07400) 123-456", "GB", ("+447400123456", "GB")),
        ("500 100 200", "PL", ("+48500100200", "PL")),
        ("+48500100200", "GB", ("+48500100200", "PL")),  # written with its country code: that country
        ("0048500100200", "GB", ("+48500100200", "PL")),
        ("447400123456", "GB", ("+447400123456", "GB")),
        ("48500100200", "GB", ("+48500100200", "PL")),  # not a GB number: international without its plus
    ],
)
def test_a_default_region_reads_national_numbers_and_keeps_international_ones(typed, region, expected):
    assert parse_recipient(typed, region) == expected


@pytest.mark.parametrize("typed", ["07400 123456", "500 100 200", "(07400) 123-456"])
def test_without_a_default_region_national_numbers_are_refused(typed):
    assert parse_recipient(typed) is None


def test_a_drama_number_stays_invalid_in_any_form():
    # +44 7700 900xxx is reserved for drama: phonenumbers calls it invalid, national or not.
    assert parse_recipient("07700 900999", "GB") is None
    assert parse_recipient("+447700900999", "GB") is None


def test_the_refusal_says_how_to_have_a_national_number_accepted():
    assert "Account settings" in number_refusal("07400 123456", "")
    assert number_refusal("07400 12345", "GB") == "Not a valid phone number: 07400 12345."
    assert number_refusal("07400 123456", None) == "Not a valid number in international format: 07400 123456."
    assert number_refusal("nope", "") == "Not a valid number in international format: nope."


def test_the_country_choices_name_each_country_with_its_code():
    choices = dict(country_choices())
    assert choices["GB"] == "United Kingdom (GB)"
    assert choices["PL"] == "Poland (PL)"
    assert choices["XK"] == "Kosovo (XK)"
    assert len(choices) > 240


@pytest.mark.parametrize(
    ("typed", "region", "numbers"),
    [
        ("07400 100001, +447400100001\n07400100002", "GB", ["07400 100001", "+447400100001", "07400100002"]),
        ("+44 7400 100001 +48 500 100 200", "", ["+44 7400 100001", "+48 500 100 200"]),
        ("+447400100001 +447400100002 447400100003", "", ["+447400100001", "+447400100002", "447400100003"]),
        ("07400 100001", "", ["07400 100001"]),  # refused whole, named as typed
        ("nope +4412; 0048 500 100 201", "", ["nope", "+4412", "0048 500 100 201"]),
    ],
)
def test_a_typed_list_splits_between_numbers_not_inside_them(typed, region, numbers):
    assert split_numbers(typed, region) == numbers


@pytest.mark.parametrize(
    ("typed", "region"),
    [
        ("48500100200", "DE"),  # a German national number, or Poland's +48 500 100 200 without its plus
        ("447400123456", "DE"),
        ("4366412345678", "DE"),
        ("33612345678", "AT"),
    ],
)
def test_a_number_valid_both_as_national_and_as_international_is_refused_as_ambiguous(typed, region):
    """A spreadsheet that lost the numbers' plus signs must not turn foreign numbers into
    domestic ones (the wrong people messaged and charged, opt-outs protecting nobody)."""
    assert parse_recipient(typed, region) is None
    assert parse_recipient("+" + typed, region) is not None  # written unambiguously: accepted
    assert number_refusal(typed, region).startswith(f"Ambiguous number: {typed} is a national number of ")


@pytest.mark.parametrize(
    ("typed", "region", "numbers"),
    [
        ("030 123456 030 6543", "DE", ["030 123456", "030 6543"]),  # two Berlin numbers, not one longer
        ("020 7946 0018", "GB", ["020 7946 0018"]),  # a group starting with 0 inside one number
        ("+44 7400123456", "", ["+44 7400123456"]),
        ("500100200 500100201", "PL", ["500100200", "500100201"]),
    ],
)
def test_a_word_that_begins_a_number_splits_the_line_when_every_piece_is_valid(typed, region, numbers):
    assert split_numbers(typed, region) == numbers
