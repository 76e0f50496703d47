import secrets
import time
import uuid

MAX_ID = 2**63 - 1  # a bigint: a larger id in a URL, a body or a cursor is no id at all, not a database error


def valid_id(value) -> bool:
    """A row id as a client may give one: an int (not a bool) in the positive bigint range."""
    return type(value) is int and 0 < value <= MAX_ID


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit millisecond timestamp, then 74 random bits.

    Public ids stay unguessable (74 bits from the CSPRNG) while new rows land at the end of the
    primary-key index instead of at random places, which keeps bulk inserts fast.
    """
    ms = time.time_ns() // 1_000_000
    rand = secrets.randbits(74)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= (rand >> 62) << 64  # 12 bits rand_a
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # 62 bits rand_b
    return uuid.UUID(int=value)
