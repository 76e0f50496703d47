from decimal import Decimal

import pytest
from django.template import engines

from core.text import points_amount, points_label


@pytest.mark.parametrize(
    ("value", "amount", "label"),
    [
        (Decimal("6.0000"), "6", "6 points"),
        (Decimal("1.0000"), "1", "1 point"),
        (Decimal("1.5000"), "1.5", "1.5 points"),
        (Decimal("0.0425"), "0.0425", "0.0425 points"),
        (Decimal("0.0000"), "0", "0 points"),
        (Decimal("-3.2500"), "-3.25", "-3.25 points"),
        (Decimal("1234567.1000"), "1,234,567.1", "1,234,567.1 points"),
        (Decimal("100"), "100", "100 points"),
        (2, "2", "2 points"),
    ],
)
def test_points_are_printed_without_trailing_zeros_and_with_the_right_plural(value, amount, label):
    assert points_amount(value) == amount
    assert points_label(value) == label


def test_every_template_has_the_points_filters_without_loading_them():
    template = engines["django"].from_string("{{ a|points }} / {{ b|points_amount }}")
    assert template.render({"a": Decimal("1.0000"), "b": Decimal("5.0000")}) == "1 point / 5"
