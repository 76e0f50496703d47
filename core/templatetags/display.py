"""Display filters every template has without `{% load %}` (TEMPLATES' `builtins`)."""

from django import template

from core import text

register = template.Library()


@register.filter
def points_amount(value) -> str:
    """`{{ balance|points_amount }}` → "1,234.5" (no trailing zeros)."""
    return text.points_amount(value)


@register.filter
def points(value) -> str:
    """`{{ cost|points }}` → "1 point", "6 points", "0.0425 points"."""
    return text.points_label(value)
