"""SMS segments and encoding (SPEC §3), one pure function for the server; the send form's counter
(static/js/segments.js) mirrors it.

GSM 03.38: the default alphabet costs one septet a character, the extension table two (escape +
character). 160 septets fit one message; concatenated messages carry 153 each, and an escape pair
is never split across two parts. Anything outside GSM-7 makes the whole text UCS-2: 70 UTF-16 code
units in one message, 67 per part, and a surrogate pair (an emoji) is never split either.
"""

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_SEGMENTS = 10


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # user-perceived code points
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # capacity of one part at this length (160/153 or 70/67)


def _pack(unit_sizes: list[int], single: int, part: int) -> int:
    """Parts needed for these indivisible units (1 or 2 each), greedily, never splitting one."""
    total = sum(unit_sizes)
    if total <= single:
        return 1 if total else 0
    parts, used = 1, 0
    for size in unit_sizes:
        if used + size > part:
            parts += 1
            used = 0
        used += size
    return parts


def count_segments(text: str) -> SegmentInfo:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        units = sum(sizes)
        segments = _pack(sizes, GSM7_SINGLE, GSM7_PART)
        return SegmentInfo("GSM-7", len(text), units, segments, GSM7_SINGLE if segments <= 1 else GSM7_PART)
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    units = sum(sizes)
    segments = _pack(sizes, UCS2_SINGLE, UCS2_PART)
    return SegmentInfo("UCS-2", len(text), units, segments, UCS2_SINGLE if segments <= 1 else UCS2_PART)
