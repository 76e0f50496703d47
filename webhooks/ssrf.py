"""The SSRF guard: where a webhook may go, and the connection that goes only there.

A URL is checked when an endpoint is saved and again before each send: https only in production,
no user name or password in it, the host resolved and *every* address it resolves to public (no
loopback, private, shared, link-local, multicast, reserved or unspecified address, no cloud
metadata address, nor an IPv6 form embedding one of those: IPv4-mapped, IPv4-compatible, 6to4,
Teredo, NAT64). Numeric hosts are read the way the C library reads them (`2130706433`,
`0177.0.0.1`, `0x7f.1` are 127.0.0.1), so no spelling slips past. The request then connects to
the address that was checked, sending the name in `Host` and, for TLS, as the server name the
certificate must match: a DNS answer that changes between the check and the connection (DNS
rebinding) changes nothing. Redirects are never followed.

WEBHOOK_ALLOW_LOOPBACK (development and tests; production refuses to start with it) lets the
hosts 127.0.0.1, [::1] and localhost through, and nothing else.
"""

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import idna
import urllib3
from django.conf import settings

from core.errors import ApplicationError
from core.text import UNSTORABLE

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
LOOPBACK_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_PART = re.compile(r"0x[0-9a-f]*|[0-9]+", re.IGNORECASE)
EXCERPT_BYTES = 1024


class UnsafeUrl(ApplicationError):
    code = "unsafe_url"


@dataclass(frozen=True)
class Target:
    """A checked URL: the name to send, the addresses it was checked at, the path to post to."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[Address, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _refuse(url_error: str) -> UnsafeUrl:
    return UnsafeUrl(url_error, errors={"url": [url_error]})


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    value = int(address)
    if value >> 32 == 0 and value > 1:  # IPv4-compatible ::a.b.c.d (:: and ::1 are themselves)
        return ipaddress.IPv4Address(value)
    if address in NAT64:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def address_refusal(address: Address, *, loopback_ok: bool = False) -> str | None:
    """Why a webhook may not go to `address` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "an address with a zone"
        inner = _embedded_ipv4(address)
        if inner is not None and address_refusal(inner):
            return f"an IPv6 form of {inner}, which is {address_refusal(inner)}"
        if address.ipv4_mapped is not None or (inner is not None and int(address) >> 32 == 0):
            return "an IPv6 form of an IPv4 address (give the IPv4 address itself)"
    if address in METADATA:
        return "a cloud metadata address"
    if loopback_ok and address in LOOPBACK_ADDRESSES:
        return None
    for test, what in (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, test):
            return what
    if not address.is_global:
        return "not a public address"
    return None


def _numeric_host(host: str) -> Address | None:
    """The address a numeric host stands for, in any spelling the C library accepts; None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    if not (1 <= len(parts) <= 4 and all(_NUMERIC_PART.fullmatch(part) for part in parts)):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise _refuse("The host is not a valid address.") from None


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (the system resolver; the tests stub socket.getaddrinfo)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # ValueError: a NUL or the like in the name
        raise _refuse(f"The host {host} does not resolve.") from None
    addresses: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _refuse(f"The host {host} does not resolve.")
    return addresses


def check_url(url: str) -> Target:
    """The URL's target, resolved and checked now; UnsafeUrl names what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise _refuse("Enter a valid URL.") from None
    scheme = parts.scheme.lower()
    allowed = ("https",) if settings.PRODUCTION else ("https", "http")
    if scheme not in allowed:
        raise _refuse("The URL must start with https://." if settings.PRODUCTION else "Use an http(s) URL.")
    if parts.username is not None or parts.password is not None:
        raise _refuse("The URL must not hold a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _refuse("The URL has no host.")
    try:  # a name in Unicode is asked of DNS, sent in Host and matched against certificates as IDNA
        host = host if host.isascii() else idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise _refuse("The URL's host is not a valid domain name.") from None
    port = port or (443 if scheme == "https" else 80)
    loopback_ok = settings.WEBHOOK_ALLOW_LOOPBACK and host in LOOPBACK_HOSTS
    literal = _numeric_host(host)
    if literal is not None:
        addresses = [literal]
    elif host == "localhost" or host.endswith(".localhost"):
        addresses = list(LOOPBACK_ADDRESSES)  # RFC 6761: always loopback, never asked of DNS
    else:
        addresses = resolve(host, port)
    for address in addresses:
        refusal = address_refusal(address, loopback_ok=loopback_ok)
        if refusal:
            raise _refuse(f"The URL's host {host} is {refusal} ({address}): webhooks go to public addresses only.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=tuple(addresses))


# --- Sending to a checked target -----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str
    latency_ms: int
    excerpt: str


class Connection:
    """A keep-alive connection to a checked target's first address, for one batch of sends."""

    def __init__(self, target: Target, *, timeout: float) -> None:
        self.target, self.timeout = target, timeout
        address = str(target.addresses[0])
        options = {"port": target.port, "maxsize": 1, "retries": False, "block": False}
        if target.scheme == "https":
            self.pool = urllib3.HTTPSConnectionPool(
                address,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                **options,
            )
        else:
            self.pool = urllib3.HTTPConnectionPool(address, **options)

    def post(self, *, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        deadline = started + self.timeout

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            response = self.pool.urlopen(
                "POST",
                self.target.path,
                body=body,
                headers={"Host": self.target.host_header, **headers},
                redirect=False,
                retries=False,
                assert_same_host=False,
                timeout=urllib3.Timeout(total=self.timeout),
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            # The class only: an exception's text can hold the URL (a customer's token in it).
            return Answer(None, _error_name(exc), elapsed(), "")
        excerpt, ended = b"", False
        try:
            while len(excerpt) < EXCERPT_BYTES and time.monotonic() < deadline:
                chunk = response.read(EXCERPT_BYTES - len(excerpt), decode_content=False)
                if not chunk:
                    ended = True
                    break
                excerpt += chunk
        except urllib3.exceptions.HTTPError:
            pass
        # Only an answer read to its end leaves the connection fit for the next send.
        response.release_conn() if ended else response.close()
        # What PostgreSQL cannot store (a NUL byte) would fail the attempt's record: shown as U+FFFD.
        text = UNSTORABLE.sub("\ufffd", excerpt.decode("utf-8", "replace"))
        return Answer(response.status, "", elapsed(), text[:EXCERPT_BYTES])

    def close(self) -> None:
        self.pool.close()


def _error_name(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(exc, urllib3.exceptions.TimeoutError) or isinstance(reason, urllib3.exceptions.TimeoutError):
        return "timeout"
    if isinstance(reason, urllib3.exceptions.NewConnectionError) or isinstance(
        exc, urllib3.exceptions.NewConnectionError
    ):
        return "connection refused"
    if isinstance(exc, urllib3.exceptions.SSLError) or isinstance(reason, urllib3.exceptions.SSLError):
        return "TLS error"
    return type(reason or exc).__name__
