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
    imports), a number written without + or 00 may also be a national number of that country
    (`07400 123456` in GB). It is read both ways; when both readings are valid numbers and differ
    (`48500100200` in DE: a German national number, or Poland's +48 500 100 200 without its plus)
    it is refused as ambiguous rather than guessed (`number_refusal` says how to write it). Without
    a region (the API: E.164, SPEC §5) nothing changes."""
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    if not value or len(value) > 32:
        return None
    if region and not value.startswith(("+", "00")):
        national, international = _readings(value, region)
        if national and international and national[0] != international[0]:
            return None
        return national or international
    if value.startswith("00"):
        value = "+" + value[2:]
    elif not value.startswith("+"):
        value = "+" + value  # API clients often omit the plus of an international number
    return _parsed(value, None)


def _readings(value: str, region: str) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    """A number written without + or 00, read as a national number of `region` and as an
    international one without its plus (never both from a leading 0: no country code starts so)."""
    national = _parsed(value, region)
    international = None if value.startswith("0") else _parsed("+" + value, None)
    return national, international


def is_ambiguous(raw: str, region: str) -> bool:
    """Whether `raw` is a valid national number of `region` and a different valid international one."""
    value = raw.strip() if isinstance(raw, str) else ""
    if not region or not value or len(value) > 32 or value.startswith(("+", "00")):
        return False
    national, international = _readings(value, region)
    return bool(national and international and national[0] != international[0])


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


def split_numbers(text: str, region: str = "") -> list[str]:
    """The numbers typed in a box, as written. Commas, semicolons and new lines always separate
    numbers; a space does only where it does not sit inside one number (`+44 7400 123456`,
    `07400 123456`). On a line of several words:

    - words of ten digits or more each are whole numbers (a pasted list: nothing parsed here);
    - else the line is cut before each word that begins a number (`+`, a leading `0`, ten digits
      or more); when every piece is a valid number, those are the numbers (`030 123456 030 6543`
      is two Berlin numbers, never one longer number);
    - else, when every word is a valid number by itself, the words (`500100200 500100201` in PL);
    - else, when the whole line is one valid number, that (`020 7946 0018`);
    - else the pieces, each named as invalid by the send.

    Each step parses each piece once at most: linear in the length of the text."""
    numbers: list[str] = []
    for line in LIST_SEPARATORS.split(text):
        words = line.split()
        if len(words) <= 1 or all(_digits(word) >= 10 for word in words):
            numbers.extend(words)
            continue
        pieces: list[list[str]] = [[words[0]]]
        for word in words[1:]:
            if word.startswith(("+", "0")) or _digits(word) >= 10:
                pieces.append([word])
            else:
                pieces[-1].append(word)
        pieces_text = [" ".join(piece) for piece in pieces]
        whole = " ".join(words)
        if len(pieces) == 1 and parse_recipient(whole, region):
            numbers.append(whole)
        elif len(pieces) > 1 and all(parse_recipient(piece, region) for piece in pieces_text):
            numbers.extend(pieces_text)
        elif all(parse_recipient(word, region) for word in words):
            numbers.extend(words)
        elif len(pieces) > 1 and parse_recipient(whole, region):
            numbers.append(whole)
        else:
            numbers.extend(pieces_text)
    return numbers


def _digits(word: str) -> int:
    return sum(ch.isdigit() for ch in word)


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
    if region and is_ambiguous(raw, region):
        return (
            f"Ambiguous number: {shown} is a national number of {country_names().get(region, region)} and also "
            "an international number without its +. Write it with + and its country code, or as a national "
            "number with its leading 0."
        )
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
