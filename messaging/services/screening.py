"""Link screening: a text naming a blocked domain (staff's list) is held for review."""

import re

from django.core.cache import cache

from core import localcache
from messaging.models import BlockedDomain

# A link as a phone would make one: a host name (dot-separated labels) that starts where no letter,
# digit or hyphen goes before it (a space, but also "now:", "url=", "https://", "...", "@"), so a
# scheme, a user name or any punctuation glued to it changes nothing; then its path, query or
# fragment up to a character no URL holds, skipped (https://example.com/bit.ly leads to
# example.com). One left-to-right pass over the text in linear time: a start is tried once, and
# the search resumes after each link.
LINK = re.compile(r"(?<![a-z0-9-])([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?:[/?#][^\s<>\"{}|\\^`]*)?", re.I)


def blocked_domains() -> set[str]:
    """Shared through the cache for a minute, and kept in this process for a second on top."""
    return localcache.remember(
        "blocked-domains",
        lambda: cache.get_or_set(
            "messaging:blocked-domains", lambda: set(BlockedDomain.objects.values_list("domain", flat=True)), 60
        ),
    )


def link_hosts(text: str):
    """Host names in a text, wherever they stand: with or without a scheme (bit.ly/x counts too),
    and glued to the words or punctuation before them ("Pay now:bit.ly/x", "Now...bit.ly/x")."""
    for match in LINK.finditer(text):
        yield match.group(1).lower()


def screen_text(text: str) -> str | None:
    """The blocked domain a link in the text points to (or a subdomain of it), if any."""
    blocked = blocked_domains()
    if not blocked:
        return None
    for host in link_hosts(text):
        parts = host.split(".")
        for i in range(len(parts) - 1):
            if ".".join(parts[i:]) in blocked:
                return ".".join(parts[i:])
    return None
