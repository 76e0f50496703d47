"""Display filters every template has without `{% load %}` (TEMPLATES' `builtins`)."""

import re

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

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


_CODE_SPAN = re.compile(r"`([^`]+)`")


@register.filter
def code_spans(value) -> str:
    """Text with `backticked` names (as the API's help texts write them) → escaped HTML with <code>."""
    return mark_safe(_CODE_SPAN.sub(r"<code>\1</code>", conditional_escape(value)))  # noqa: S308 (escaped first)
