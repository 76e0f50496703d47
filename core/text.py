"""Rules about text shared by every app."""

import re
from decimal import Decimal, InvalidOperation

# What no text column can hold: NUL, and a UTF-16 surrogate on its own (JSON can carry an escaped
# "\ud83d" alone). PostgreSQL refuses both, so storing either would fail with a 500.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def points_amount(value) -> str:
    """A number of points as people write it: no trailing zeros, thousands grouped ("1,234.5")."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def points_label(value) -> str:
    """`points_amount` with its unit, singular for exactly one: "1 point", "1.5 points", "0 points"."""
    amount = points_amount(value)
    return f"{amount} point" if amount == "1" else f"{amount} points"


def counted(number, singular: str, plural: str | None = None) -> str:
    """A count with its noun in the right number, thousands grouped: "1 message", "2,500 messages",
    "1 entry" (`counted(n, "entry", "entries")`)."""
    noun = singular if number == 1 else (plural or singular + "s")
    return f"{number:,} {noun}"


def points_plain(value) -> str:
    """An amount of points for a form's input: digits without trailing zeros or grouping ("10",
    "0.5", "1234.25"; never "1E+1" or "5.0000")."""
    return points_amount(value).replace(",", "")
