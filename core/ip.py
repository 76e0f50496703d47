"""The one client-IP resolver. IP allowlists, axes, throttles, audit and sessions all use it.

The socket peer (REMOTE_ADDR) is the client unless the peer is a trusted proxy
(settings.TRUSTED_PROXIES, a list of addresses or CIDR ranges). Only then is X-Forwarded-For
read, right to left: trusted hops are skipped and the first untrusted address is the client.
A client can put anything at the left of the header, so the left part is never believed.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

from core.ip_networks import IPNetwork, contains, parse_networks

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_networks(entries)


def trusted_proxy_networks() -> tuple[IPNetwork, ...]:
    return _networks(tuple(settings.TRUSTED_PROXIES))


def parse_ip(value: str) -> IPAddress | None:
    """An address from a header or socket value: tolerates brackets, a port and IPv4-mapped IPv6."""
    value = value.strip().strip('"')
    if not value:
        return None
    if value.startswith("["):  # [2001:db8::1]:443
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # 192.0.2.1:8080
        value = value.split(":", 1)[0]
    value = value.split("%", 1)[0]  # zone id (fe80::1%eth0)
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return contains(networks, address)


def resolve_client_ip(remote_addr: str, forwarded_for: str | None) -> str:
    remote_addr, forwarded_for, networks = remote_addr or "", forwarded_for or "", trusted_proxy_networks()
    if len(remote_addr) + len(forwarded_for) > 200:  # a long header: not worth keeping
        return _resolve.__wrapped__(remote_addr, forwarded_for, networks)
    return _resolve(remote_addr, forwarded_for, networks)


# A pure function of its arguments, which clients repeat request after request; at most 4,096
# entries of at most 200 characters of input each.
@lru_cache(maxsize=4096)
def _resolve(remote_addr: str, forwarded_for: str, networks: tuple[IPNetwork, ...]) -> str:
    peer = parse_ip(remote_addr)
    if peer is None:
        return ""
    if not forwarded_for or not _is_trusted(peer, networks):
        return str(peer)
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        address = parse_ip(hop)
        if address is None:
            # Garbage where the client's address should be: fail closed (no address matches
            # an allowlist) rather than pass off the proxy's own address as the client.
            return ""
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)


def get_client_ip(request: HttpRequest) -> str:
    cached = getattr(request, "_client_ip", None)
    if cached is None:
        cached = resolve_client_ip(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR"))
        request._client_ip = cached
    return cached
