"""Counts are written with their noun in the right number (core.text.counted)."""

from core.text import counted, points_plain


def test_a_count_takes_the_singular_only_for_one():
    assert counted(1, "message") == "1 message"
    assert counted(0, "message") == "0 messages"
    assert counted(2500, "message") == "2,500 messages"
    assert counted(1, "entry", "entries") == "1 entry"
    assert counted(3, "entry", "entries") == "3 entries"


def test_an_amount_for_a_form_input_has_no_trailing_zeros_or_grouping():
    from decimal import Decimal

    assert points_plain(Decimal("5.0000")) == "5"
    assert points_plain(Decimal("10")) == "10"
    assert points_plain(Decimal("1234.2500")) == "1234.25"
