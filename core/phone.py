"""Phone numbers: the one place they are parsed (recipients, sign-in phones, contacts)."""

import functools
import re
import unicodedata

import phonenumbers

from core.errors import ApplicationError

# The product's example mobile number: the demo account's phone and every format hint. It is in
# the Australian regulator's (ACMA's) range for creative works, so it is never anyone's real phone,
# and unlike the UK's drama range (+44 7700 900xxx, which `phonenumbers` calls invalid) the
# product accepts it. tests/core/test_phone_examples.py holds every example in the code to this.
EXAMPLE_MOBILE = "+61491570156"
EXAMPLE_MOBILE_SPACED = "+61 491 570 156"


def parse_recipient(raw: str, region: str = "") -> tuple[str, str] | None:
    """(E.164, ISO country) for a valid number written in international format, else None.

    With a `region` (an account's default country, ISO 3166 alpha-2: the portal's forms and CSV
    imports), a number written without + or 00 is first read as a national number of that
    country (`07400 123456` in GB); one that is not valid there is read as before, as an
    international number without its plus. Without a region (the API: E.164, SPEC §5) nothing
    changes."""
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    if not value or len(value) > 32:
        return None
    if region and not value.startswith(("+", "00")):
        national = _parsed(value, region)
        if national is not None:
            return national
    if value.startswith("00"):
        value = "+" + value[2:]
    elif not value.startswith("+"):
        value = "+" + value  # API clients often omit the plus of an international number
    return _parsed(value, None)


def _parsed(value: str, region: str | None) -> tuple[str, str] | None:
    """(E.164, country) of `value` read by phonenumbers (national numbers in `region`), if valid."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    found = valid_region(number)
    if found is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), found


NATIONAL_LIKE = re.compile(r"^[\d\s().-]+$")
NATIONAL_HELP = (
    "write it with its country code (+44 7400 123456 for a UK number), or the account's owner sets a default "
    "country for numbers without one in Account settings"
)


LIST_SEPARATORS = re.compile(r"[,;\r\n]+")
MAX_NUMBER_WORDS = 6  # "+44 (0) 74 00 12 34 56" at most


def split_numbers(text: str, region: str = "") -> list[str]:
    """The numbers typed in a box, as written: separated by commas, semicolons or new lines, or by
    spaces where a space does not sit inside one number (`+44 7400 123456`, `07400 123456`).

    Within a line, a word that is a number by itself stands alone (a list of full numbers costs
    no parse here: the send parses each once); otherwise the longest run of words from it that is one valid number
    is taken, and failing that, the words up to the next that starts a number (with + or valid
    by itself): one entry to name as invalid."""
    numbers: list[str] = []
    for line in LIST_SEPARATORS.split(text):
        words = line.split()
        # Ten digits or more: a whole number (valid or not) by itself, without parsing it here.
        alone = [sum(ch.isdigit() for ch in word) >= 10 or parse_recipient(word, region) is not None for word in words]
        i = 0
        while i < len(words):
            end = i + 1
            if not alone[i]:
                for j in range(min(len(words), i + MAX_NUMBER_WORDS), i + 1, -1):
                    if parse_recipient(" ".join(words[i:j]), region) is not None:
                        end = j
                        break
                else:
                    while end < len(words) and not alone[end] and not words[end].startswith("+"):
                        end += 1
            numbers.append(" ".join(words[i:end]))
            i = end
    return numbers


def looks_national(raw: str) -> bool:
    """Written like a phone number without its country code (`07400 123456`): digits (at least
    six) and separators, no leading + or 00."""
    value = raw.strip()
    return bool(NATIONAL_LIKE.match(value)) and not value.startswith("00") and sum(ch.isdigit() for ch in value) >= 6


def national_hint(refused: list[str], region: str) -> str:
    """A sentence for a form that refused numbers: when some look like national numbers and the
    account has no default country, how to have them accepted; else empty."""
    if region or not any(looks_national(raw) for raw in refused):
        return ""
    return f"A number without a country code needs the account's default country: {NATIONAL_HELP}."


def number_refusal(raw: str, region: str | None) -> str:
    """Why `raw` was refused, naming it. `region`: the account's default country in the portal
    ("" when it has none), None where only international numbers are taken (the API)."""
    shown = raw.strip()[:32] or "(empty)"
    if region:
        return f"Not a valid phone number: {shown}."
    if region is not None and looks_national(raw):
        return (
            f"Not a valid number without a country code (the account has no default country): {shown}; {NATIONAL_HELP}."
        )
    return f"Not a valid number in international format: {shown}."


# Names phonenumbers' locale data does not hold (regions sharing another's calling code).
_EXTRA_NAMES = {"AC": "Ascension Island", "TA": "Tristan da Cunha", "XK": "Kosovo"}


@functools.cache
def country_names() -> dict[str, str]:
    """ISO 3166 code → English name of every region numbers are recognised in (phonenumbers'
    own locale data), sorted by name."""
    from phonenumbers.geodata.locale import LOCALE_DATA

    names = {}
    for code in phonenumbers.SUPPORTED_REGIONS:
        entry = LOCALE_DATA.get(code, {})
        name = entry.get("en", "")
        if name.startswith("*"):  # "*xx": the name is the one of language xx
            name = entry.get(name[1:], "")
        names[code] = name or _EXTRA_NAMES.get(code, code)
    return dict(sorted(names.items(), key=lambda item: unicodedata.normalize("NFKD", item[1]).casefold()))


def country_choices() -> list[tuple[str, str]]:
    """(code, "Name (CODE)") for a form's country field."""
    return [(code, f"{name} ({code})") for code, name in country_names().items()]


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
