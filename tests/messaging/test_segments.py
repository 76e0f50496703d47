import pytest
from hypothesis import given
from hypothesis import strategies as st

from messaging.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("Hello world", "GSM-7", 11, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters count two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("€[]{}^~\\|", "GSM-7", 18, 1),
        ("Ünïcode", "UCS-2", 7, 1),  # ï is not in GSM-7
        ("ж" * 70, "UCS-2", 70, 1),
        ("ж" * 71, "UCS-2", 71, 2),
        ("ж" * 134, "UCS-2", 134, 2),
        ("ж" * 135, "UCS-2", 135, 3),
        ("😀", "UCS-2", 2, 1),  # outside the BMP: a surrogate pair
        ("😀" * 35, "UCS-2", 70, 1),
        ("😀" * 36, "UCS-2", 72, 2),
        ("Price 10€ — ok", "UCS-2", 14, 1),  # the em dash forces UCS-2 for the whole text
        ("Zażółć gęślą jaźń", "UCS-2", 17, 1),
    ],
)
def test_segment_vectors(text, encoding, units, segments):
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_an_escape_pair_is_never_split_across_parts():
    assert count_segments("a" * 152 + "€").segments == 1  # 154 septets fit one message
    # 306 septets would fit two parts, but the pair cannot straddle the 153 boundary.
    assert count_segments("a" * 152 + "€" + "a" * 152).segments == 3  # 152 | 2+151 | 1


def test_a_surrogate_pair_is_never_split_across_parts():
    assert count_segments("ж" * 66 + "😀" + "ж" * 66).segments == 3  # 66 | 2+65 | 1


def test_alphabet_sizes():
    assert len(GSM7_BASIC) == 127  # 128 positions less the escape
    assert len(GSM7_EXTENSION) == 10


@given(st.text(alphabet=sorted(GSM7_BASIC), max_size=1000))
def test_plain_gsm_matches_the_simple_formula(text):
    info = count_segments(text)
    n = len(text)
    expected = 0 if n == 0 else 1 if n <= 160 else -(-n // 153)
    assert info.encoding == "GSM-7"
    assert info.segments == expected


@given(st.text(max_size=500))
def test_segments_always_hold_the_text(text):
    info = count_segments(text)
    capacity = 160 if info.encoding == "GSM-7" else 70
    part = 153 if info.encoding == "GSM-7" else 67
    if info.units <= capacity:
        assert info.segments == (1 if text else 0)
    else:
        assert (info.segments - 1) * part < info.units <= info.segments * part + info.segments  # pairs may leave gaps
