"""DRF authentication for the API: Bearer (API token or access token) and Basic (credential).

One indexed lookup (the row comes with its creator, membership and account), a constant-time
comparison of SHA-256 digests, no password hasher. A web worker reuses a lookup, or the fact that
a key does not exist, for at most API_LOCAL_CACHE_SECONDS (one second, SPEC §5), and changes made
through the services clear that at once; so a disabled, expired, deleted or revoked key fails
within a second on every worker. A key id of the wrong shape is refused without a query.
"""

import base64
import binascii
import hmac
import logging
import re
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from accounts.models import Account, User
from apikeys.models import AccessToken, ApiCredential, ApiToken
from apikeys.services import ACCESS_PREFIX, access_token_secret, allowed_scopes, digest
from audit.models import AuditEvent
from core import localcache, ratelimit
from core.ip import get_client_ip

logger = logging.getLogger(__name__)
LAST_USED_EVERY_SECONDS = 60
KNOWN_IP_SECONDS = 30 * 24 * 3600


@dataclass
class ApiAuth:
    """What a request is allowed to do, as `request.auth`."""

    kind: str  # "token", "credential" or "access"
    parent: ApiToken | ApiCredential
    account: Account
    user: User
    scopes: set[str]
    is_test: bool
    access: AccessToken | None = None
    extra: dict = field(default_factory=dict)

    @property
    def caller(self) -> str:
        return f"{'token' if isinstance(self.parent, ApiToken) else 'credential'}:{self.parent.pk}"

    @property
    def label(self) -> str:
        return self.parent.prefix if isinstance(self.parent, ApiToken) else self.parent.key_id


def _fail(detail: str = "The credentials are not valid.") -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail)


def _build(kind: str, parent, access: AccessToken | None = None) -> ApiAuth:
    user = parent.created_by
    scopes = set(access.scopes if access is not None else parent.scopes) & allowed_scopes(user)
    return ApiAuth(
        kind=kind,
        parent=parent,
        account=parent.account,
        user=user,
        scopes=scopes,
        is_test=parent.is_test,
        access=access,
    )


_last_noted: dict[str, float] = {}
_known_ips: set[str] = set()


def note_use(request, auth: ApiAuth) -> None:
    """`last_used` at most once a minute per key (no write per request), and an audit event the
    first time a key is used from an address. Checked in this process first, then in Redis, so
    the common case costs no round trip."""
    parent = auth.parent
    ip = get_client_ip(request) or None
    now = time.monotonic()
    memo = bool(settings.API_LOCAL_CACHE_SECONDS)  # off in the test suite: every request asks Redis
    if not memo or now - _last_noted.get(auth.caller, -LAST_USED_EVERY_SECONDS) >= LAST_USED_EVERY_SECONDS:
        _last_noted[auth.caller] = now
        if cache.add(f"api-used:{auth.caller}", 1, timeout=LAST_USED_EVERY_SECONDS):
            type(parent).objects.filter(pk=parent.pk).update(last_used_at=timezone.now(), last_used_ip=ip)
    seen_key = f"api-ip:{auth.caller}:{ip}"
    if not ip or (memo and seen_key in _known_ips):
        return
    if len(_known_ips) > 100_000:
        _known_ips.clear()
    _known_ips.add(seen_key)
    if cache.add(seen_key, 1, timeout=KNOWN_IP_SECONDS):
        action = "api_token.used_from_new_ip" if isinstance(parent, ApiToken) else "api_credential.used_from_new_ip"
        seen = AuditEvent.objects.filter(action=action, object_id=str(parent.pk), ip=ip).exists()
        if not seen and (parent.last_used_ip != ip or parent.last_used_at is None):
            AuditEvent.objects.create(
                account=auth.account,
                actor=None,
                actor_token=auth.label,
                action=action,
                ip=ip,
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
                object_type=parent._meta.label_lower,
                object_id=str(parent.pk),
                object_repr=str(parent)[:200],
            )


_MISSING = object()  # "no such key", remembered like a row
TOKEN_PREFIX = re.compile(r"[0-9a-f]{12}")
KEY_ID = re.compile(r"ak_[0-9a-f]{16}")


def _too_many_failures() -> exceptions.Throttled:
    return exceptions.Throttled(
        wait=60, detail="Too many failed authentications from this address: wait a minute, and check the key."
    )


def guarded(authenticate):
    """Per client address, more than API_AUTH_FAILURES_PER_MINUTE failed authentications in a
    minute turn further failures into 429s, and the address is refused before any lookup for the
    next API_LOCAL_CACHE_SECONDS on this worker: someone spraying made-up keys costs the database
    one query a second per worker, not one per request. Requests that authenticate count nothing."""

    def wrapper(self, request):
        ip = get_client_ip(request)
        if ip and localcache.get(("auth-failing", ip)) is not None:
            raise _too_many_failures()
        try:
            return authenticate(self, request)
        except exceptions.AuthenticationFailed:
            if ip and ratelimit.count(f"api-authfail:{ip}", window_seconds=60) > settings.API_AUTH_FAILURES_PER_MINUTE:
                localcache.put(("auth-failing", ip), True)
                if ratelimit.once(f"api-authfail-logged:{ip}", seconds=60):
                    logger.warning("Failed API authentications from %s are over the limit; refusing them.", ip)
                raise _too_many_failures() from None
            raise

    return wrapper


def _lookup(model, **where):
    """The key's row with its account, creator and membership: one indexed query, or this
    process's copy from less than API_LOCAL_CACHE_SECONDS ago."""
    if any("\x00" in value for value in where.values()):
        return None  # no key holds one, and PostgreSQL text cannot: a 401, not a 500
    cache_key = (model.__name__, *where.values())
    # A key that does not exist (deleted, or made up) is remembered too: a client that keeps
    # retrying with a deleted token costs one query a second per worker, not one per request.
    row = localcache.remember(
        cache_key,
        lambda: (
            model.objects.select_related("account", "created_by__membership").filter(**where).order_by().first()
            or _MISSING
        ),
    )
    return None if row is _MISSING else row


class BearerAuthentication(BaseAuthentication):
    keyword = "Bearer"

    @guarded
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        value = value.strip()
        if not value or " " in value:
            raise _fail("Malformed Authorization header: use `Bearer <token>`.")
        auth = self._access(value) if value.startswith(ACCESS_PREFIX) else self._token(value)
        note_use(request, auth)
        return auth.user, auth

    def _token(self, value: str) -> ApiAuth:
        parts = value.split("_", 2)  # the secret part may itself contain "_"
        if len(parts) != 3 or parts[0] not in ("live", "test") or not TOKEN_PREFIX.fullmatch(parts[1]):
            raise _fail()
        token = _lookup(ApiToken, prefix=parts[1])
        if token is None or not hmac.compare_digest(token.digest, digest(value)):
            raise _fail()
        if token.disabled:
            raise _fail("This token is disabled.")
        if token.expires_at is not None and token.expires_at <= timezone.now():
            raise _fail("This token has expired.")
        return _build("token", token)

    def _access(self, value: str) -> ApiAuth:
        try:
            raw_id = value[len(ACCESS_PREFIX) :].split("_", 1)[0]
            access_id = uuid.UUID(hex=raw_id)
        except ValueError:
            raise _fail() from None
        # compare_digest refuses non-ASCII str (a TypeError, so a 500): compare bytes.
        if not hmac.compare_digest(value.encode(), access_token_secret(access_id).encode()):
            raise _fail()
        access = (
            AccessToken.objects.select_related(
                "api_token__account", "api_token__created_by__membership", "credential__account",
                "credential__created_by__membership",
            )
            .filter(pk=access_id)
            .first()
        )  # fmt: skip
        if access is None or access.revoked_at is not None:
            raise _fail("This access token was revoked.")
        if access.expires_at <= timezone.now():
            raise _fail("This access token has expired.")
        parent = access.api_token or access.credential
        if parent.disabled or (isinstance(parent, ApiToken) and parent.state != "active"):
            raise _fail("The key this access token was issued to no longer works.")
        return _build("access", parent, access)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class CredentialBasicAuthentication(BaseAuthentication):
    """`Authorization: Basic base64(key_id:secret)` with an API credential."""

    @guarded
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _fail("Malformed Authorization header: use Basic base64(key_id:secret).") from None
        key_id, sep, secret = decoded.partition(":")
        if not sep or not key_id or not secret:
            raise _fail("Malformed Authorization header: use Basic base64(key_id:secret).")
        auth = authenticate_credential(key_id, secret)
        note_use(request, auth)
        return auth.user, auth

    def authenticate_header(self, request):
        return 'Basic realm="api"'


def authenticate_credential(key_id: str, secret: str) -> ApiAuth:
    """Also used by the legacy `smsUser`/`smsKey` endpoint."""
    if not KEY_ID.fullmatch(key_id):
        raise _fail()
    credential = _lookup(ApiCredential, key_id=key_id)
    try:
        secret_digest = digest(secret)
    except UnicodeEncodeError:  # a lone surrogate (a JSON body can carry one): no secret has it
        raise _fail() from None
    if credential is None or not hmac.compare_digest(credential.digest, secret_digest):
        raise _fail()
    if credential.disabled:
        raise _fail("This credential is disabled.")
    return _build("credential", credential)
