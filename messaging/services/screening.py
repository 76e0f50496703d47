"""Link screening: a text naming a blocked domain (staff's list) is held for review.

A host is compared in the form a browser resolves it to, on both sides: the text's hosts and
staff's entries alike go through `host_key` (lower case, no trailing dot, IDNA's ASCII form), so
`BIT.ly.`, `bit。ly` (an ideographic full stop), `b%69t.ly` and `bit.ly` are one domain, and an
entry written in Unicode matches its punycode (`xn--…`) in a text, and the other way round. A
blocked domain covers its subdomains (a suffix of whole labels: `www.bit.ly` is held, `notbit.ly`
and `bit.lyrics.com` are not).
"""

import re
import unicodedata
from urllib.parse import unquote

import idna
from django.core.cache import cache

from core import localcache
from messaging.models import BlockedDomain


def _unicode_tables() -> tuple[str, dict[int, str | None]]:
    """The combining marks of the BMP (a character class's body: `\\w` leaves them out, yet they
    belong to the labels of Indic and other IDN names), and the translation that a browser applies
    to a host on top of NFKC: the ideographic full stops are dots (UTS #46, as RFC 3490 §3.1), and
    the characters UTS #46 ignores (soft hyphen, zero-width space, variation selectors…) are
    dropped, so that `bit\\u00ad.ly` is `bit.ly` as it is in the address bar."""
    marks: list[tuple[int, int]] = []
    table: dict[int, str | None] = {0x3002: ".", 0xFF0E: ".", 0xFF61: "."}
    for code in range(0x80, 0x10000):
        category = unicodedata.category(chr(code))
        if category in ("Cf", "Mn"):
            try:
                if idna.uts46_remap(f"a{chr(code)}", std3_rules=False) == "a":
                    table[code] = None
                    continue
            except idna.IDNAError:
                pass
        if category[0] == "M":
            if marks and marks[-1][1] == code - 1:
                marks[-1] = (marks[-1][0], code)
            else:
                marks.append((code, code))
    return "".join(f"\\u{first:04x}-\\u{last:04x}" for first, last in marks), table


_MARKS, _HOST_CHARACTERS = _unicode_tables()
_LABEL = rf"(?:[^\W_]|[{_MARKS}\-]|%[0-9a-f]{{2}})+"

# A link as a phone would make one: a host name (labels of letters, digits, marks, hyphens and
# percent escapes, separated by dots, escaped ones too) that starts where no such character goes before it (a space, but
# also "now:", "url=", "https://", "...", "@"), so a scheme, a user name or any punctuation glued
# to it changes nothing; then its path, query or fragment up to a character no URL holds, skipped
# (https://example.com/bit.ly leads to example.com). One left-to-right pass over the text in
# linear time: a start is tried once, and the search resumes after each link.
LINK = re.compile(
    rf"(?<![^\W_])(?<![{_MARKS}\-])({_LABEL}(?:(?:\.|%2e){_LABEL})+)(?:[/?#][^\s<>\"{{}}|\\^`]*)?", re.IGNORECASE
)


def _browser_text(text: str) -> str:
    """The text with a host's characters as a browser reads them (NFKC, the full stops, the
    ignored characters); an ASCII text is that already."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_HOST_CHARACTERS)


def _label_key(label: str) -> str:
    """One label's ASCII form when IDNA refuses the name (a symbol, an emoji, a malformed
    `xn--`): decoded, folded and encoded again, so that the entry and the text still agree."""
    if len(label) > 63:  # longer than DNS allows: no such host, nothing to encode
        return label
    if label.startswith("xn--"):
        try:
            label = label[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            return label
    label = unicodedata.normalize("NFKC", label).casefold()
    return label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")


def host_key(host: str) -> str:
    """The ASCII name a browser resolves `host` to: lower case, no trailing dot, a non-ASCII label
    in IDNA's punycode (UTS #46 mapping); `bücher.example` and `xn--bcher-kva.example` are one."""
    host = _browser_text(host).lower().rstrip(".")
    if host.isascii() and "xn--" not in host:
        return host
    try:
        return idna.encode(host, uts46=True, std3_rules=False).decode("ascii")
    except idna.IDNAError:
        return ".".join(_label_key(label) for label in host.split("."))


def blocked_domains() -> set[str]:
    """Staff's entries by `host_key`; shared through the cache for a minute, and kept in this
    process for a second on top."""
    return localcache.remember(
        "blocked-domains",
        lambda: cache.get_or_set(
            "messaging:blocked-domains",
            lambda: {host_key(domain) for domain in BlockedDomain.objects.values_list("domain", flat=True)},
            60,
        ),
    )


def link_hosts(text: str):
    """Host names in a text by `host_key`, wherever they stand: with or without a scheme (bit.ly/x
    counts too), and glued to the words or punctuation before them ("Pay now:bit.ly/x",
    "Now...bit.ly/x"). A host with percent escapes is read again once decoded (`b%69t%2Ely`,
    `user%40bit.ly`), as a browser decodes them in a host."""
    for match in LINK.finditer(_browser_text(text)):
        host = match.group(1)
        if "%" not in host:
            yield host_key(host)
            continue
        for decoded in LINK.finditer(_browser_text(unquote(host))):
            if "%" not in decoded.group(1):  # escapes are decoded once, as a browser does
                yield host_key(decoded.group(1))


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
