import pytest
from django.test import RequestFactory, override_settings

from core.ip import get_client_ip, parse_ip, resolve_client_ip

rf = RequestFactory()


def request_from(peer: str, xff: str | None = None):
    meta = {"REMOTE_ADDR": peer}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return rf.get("/", **meta)


@override_settings(TRUSTED_PROXIES=[])
def test_forged_forwarded_for_from_an_untrusted_peer_is_ignored():
    assert get_client_ip(request_from("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_forwarded_for_from_an_untrusted_peer_is_ignored_even_when_proxies_are_configured():
    assert get_client_ip(request_from("203.0.113.7", "10.1.1.1, 198.51.100.1")) == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_trusted_proxy_yields_the_address_it_saw():
    assert get_client_ip(request_from("10.0.0.5", "198.51.100.1")) == "198.51.100.1"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "192.168.1.1"])
def test_the_right_most_untrusted_address_wins_over_a_forged_left_part():
    # The client sent "X-Forwarded-For: 1.1.1.1"; two trusted proxies appended what they saw.
    request = request_from("10.0.0.5", "1.1.1.1, 198.51.100.1, 192.168.1.1")
    assert get_client_ip(request) == "198.51.100.1"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_all_hops_trusted_gives_the_left_most():
    assert get_client_ip(request_from("10.0.0.5", "10.0.0.9, 10.0.0.8")) == "10.0.0.9"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_garbage_left_of_the_client_is_never_reached():
    assert get_client_ip(request_from("10.0.0.5", "not-an-ip, 198.51.100.1")) == "198.51.100.1"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_garbage_where_the_client_should_be_fails_closed():
    # Not the proxy's own (trusted, possibly allow-listed) address: no address at all.
    assert get_client_ip(request_from("10.0.0.5", "198.51.100.1, junk")) == ""
    assert get_client_ip(request_from("10.0.0.5", "unknown")) == ""


@override_settings(TRUSTED_PROXIES=["2001:db8:ffff::/48"])
def test_ipv6_peer_and_forwarded_addresses():
    request = request_from("2001:db8:ffff::1", "2001:db8:1::42, 2001:db8:ffff::2")
    assert get_client_ip(request) == "2001:db8:1::42"
    assert get_client_ip(request_from("2001:db8:1::9", "2001:db8:1::42")) == "2001:db8:1::9"


@override_settings(TRUSTED_PROXIES=["::1", "127.0.0.1"])
def test_bracketed_and_ported_forms_and_ipv4_mapped_addresses():
    assert get_client_ip(request_from("::1", "[2001:db8::7]:4711")) == "2001:db8::7"
    assert get_client_ip(request_from("127.0.0.1", "198.51.100.3:8080")) == "198.51.100.3"
    assert get_client_ip(request_from("::ffff:127.0.0.1", "198.51.100.4")) == "198.51.100.4"


def test_the_address_is_normalised():
    assert str(parse_ip("2001:DB8:0:0::1")) == "2001:db8::1"
    assert parse_ip("") is None
    assert parse_ip("example.com") is None


@pytest.mark.parametrize("peer", ["", "garbage"])
def test_an_unusable_socket_address_gives_no_ip(peer):
    assert resolve_client_ip(peer, "198.51.100.1") == ""


def test_an_ipv4_mapped_trusted_proxy_is_trusted(settings):
    """TRUSTED_PROXIES are read like allowlist entries: ::ffff:10.0.0.5 is the proxy 10.0.0.5."""
    settings.TRUSTED_PROXIES = ["::ffff:10.0.0.5"]
    assert resolve_client_ip("10.0.0.5", "203.0.113.9") == "203.0.113.9"
