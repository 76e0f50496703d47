"""Every phone number the product shows as an example (format hints, placeholders, the demo
account's number, help texts) is one the product itself accepts."""

import re

from core.phone import EXAMPLE_MOBILE, EXAMPLE_MOBILE_SPACED, parse_recipient
from tests.conftest import REPO

# "+44 7400 123456", "+447400123456", "+1 500 555 0001": a plus, then digits with single spaces.
WRITTEN_NUMBER = re.compile(r"\+\d(?: ?\d){6,14}\b")
APPS = ("accounts", "apikeys", "audit", "compat", "contacts", "core", "inbound", "members", "messaging", "portal",
        "security", "verify", "webhooks")  # fmt: skip


def shown_examples() -> dict[str, list[str]]:
    """The numbers written in the product's code and pages (not its tests, nor migrations, which
    keep what was once written), by file."""
    files = [path for app in APPS for path in (REPO / app).rglob("*.py") if "migrations" not in path.parts]
    files += [*(REPO / "templates").rglob("*.html"), *(REPO / "static" / "js").rglob("*.js")]
    found = {}
    for path in files:
        numbers = WRITTEN_NUMBER.findall(path.read_text())
        if numbers:
            found[str(path.relative_to(REPO))] = numbers
    return found


def test_every_phone_number_shown_as_an_example_is_valid():
    examples = shown_examples()
    refused = {path: [n for n in numbers if parse_recipient(n) is None] for path, numbers in examples.items()}
    assert not {path: numbers for path, numbers in refused.items() if numbers}


def test_the_example_mobile_is_valid_and_written_two_ways_alike():
    assert parse_recipient(EXAMPLE_MOBILE) == (EXAMPLE_MOBILE, "AU")
    assert parse_recipient(EXAMPLE_MOBILE_SPACED) == (EXAMPLE_MOBILE, "AU")
