"""Link screening reads a host as a browser does: every spelling that leads to a blocked domain is
held, and nothing else is."""

import pytest
from django.core.cache import cache

from messaging.models import BlockedDomain
from messaging.services.screening import host_key, screen_text
from messaging.services.submit import message_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def blocklist():
    def block(*domains: str) -> None:
        for domain in domains:
            BlockedDomain.objects.get_or_create(domain=domain)
        cache.delete("messaging:blocked-domains")  # as the admin does on save

    block("bit.ly")
    return block


@pytest.mark.parametrize(
    "text",
    [
        "Track: bit.ly/x",
        "Track: BIT.Ly/x",  # case
        "Track: bit.ly./x",  # trailing dot (the root)
        "Track: https://bit.ly../x",
        "Track: www.bit.ly/x",
        "Track: a.b.bit.ly/x",  # subdomains
        "Track: https://user@bit.ly/x",  # userinfo
        "Track: https://user:pw@bit.ly/x",
        "Track: https://%62it.ly/x",  # percent-encoding in the host
        "Track: https://bit%2Ely/x",
        "Track: https://bit%2ely/x",
        "Track: https://user%40bit.ly/x",
        "Track: bit\u3002ly/x",  # ideographic full stop
        "Track: bit\uff0ely/x",  # full-width full stop
        "Track: bit\uff61ly/x",  # half-width ideographic full stop
        "Track: https://www\u3002bit\uff0ely\uff61/x",
        "Track: \uff42\uff49\uff54.\uff4c\uff59/x",  # full-width letters
        "Track: \uff22\uff29\uff34\uff0e\uff2c\uff39\uff0fx",  # full-width capitals, dot and slash
        "Track: bit\u00ad.ly/x",  # a soft hyphen, which the address bar drops
        "Track: b\u200bit.ly/x",  # a zero-width space, likewise
        "Track:bit.ly",  # scheme-less, glued to punctuation
        "Track \u201cbit.ly\u201d now",  # in typographic quotes
        "\u8bf7\u67e5\u770b bit\u3002ly/x",  # in a Chinese text
    ],
)
def test_a_blocked_domain_is_found_however_the_link_spells_it(blocklist, text):
    assert screen_text(text) == "bit.ly", text


@pytest.mark.parametrize(
    "text",
    [
        "See notbit.ly/x",
        "See bit.lyrics.com/x",
        "See bit.ly.example.com/x",  # example.com's host, not bit.ly's
        "See https://example.com/bit.ly",
        "See https://example.com/a\u3002bit.ly",  # in a path
        "See x%62it.ly/x",  # xbit.ly
        "See bit\uff0elyrics.com",
        "See my-bit\u3002ly",
        "Pay 1\uff0e50 now",
        "\u4f60\u597d\u3002\u8c22\u8c22",  # a Chinese sentence, full stop and all
    ],
)
def test_screening_holds_no_other_domain_whatever_its_spelling(blocklist, text):
    assert screen_text(text) is None, text


def test_an_idn_entry_matches_its_unicode_and_punycode_spellings(blocklist):
    """A look-alike of a known name (a Cyrillic "a" in paypal) put on the list in Unicode is held in
    its punycode form and in Unicode, in any case; the Latin original is another domain. An entry
    written in punycode holds the Unicode spelling as well."""
    lookalike = "p\u0430ypal.example"
    blocklist(lookalike, "xn--bcher-kva.example")
    assert host_key(lookalike) == "xn--pypal-4ve.example"
    assert screen_text("Log in: https://xn--pypal-4ve.example/login") == "xn--pypal-4ve.example"
    assert screen_text("Log in: https://XN--PYPAL-4VE.example/login") == "xn--pypal-4ve.example"
    assert screen_text(f"Log in: https://{lookalike}/login") == "xn--pypal-4ve.example"
    assert screen_text(f"Log in: https://www.{lookalike.upper()}\u3002/login") == "xn--pypal-4ve.example"
    assert screen_text("Log in: https://paypal.example/login") is None
    assert screen_text("Books: b\u00fccher.example/x") == "xn--bcher-kva.example"
    assert screen_text("Books: B\u00dcCHER\uff0eexample") == "xn--bcher-kva.example"
    assert screen_text("Books: bucher.example") is None


def test_a_link_written_with_an_ideographic_full_stop_holds_the_message(owner, blocklist):
    result = message_submit(
        account_id=owner.membership.account_id,
        user=owner,
        caller=f"user:{owner.pk}",
        to=["+447400100001"],
        text="Your parcel: bit\u3002ly/x",
    )
    assert result.messages[0].status == "held"
    assert result.messages[0].error_code == "blocked_domain:bit.ly"
