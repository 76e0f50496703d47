import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership, User
from apikeys.models import SCOPE_PERMISSION, SCOPES, AccessToken, ApiCredential, ApiToken
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core import localcache
from core.errors import ApplicationError, Forbidden, NotFound
from security.services import change_alert

TOKEN_ALPHABET_BYTES = 32  # 256 random bits in every secret


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def allowed_scopes(user: User) -> set[str]:
    """The scopes a user can hand out (and a token of theirs can still use): their permissions."""
    membership: Membership | None = getattr(user, "membership", None)
    if membership is None or not user.is_active:
        return set()
    return {scope for scope, permission in SCOPE_PERMISSION.items() if membership.has_permission(permission)}


def _check_scopes(user: User, scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ApplicationError(
            f"Unknown scope: {', '.join(unknown)}.", code="invalid_request", errors={"scopes": ["Unknown scope."]}
        )
    if not scopes:
        raise ApplicationError("Choose at least one scope.", code="invalid_request", errors={"scopes": ["Required."]})
    beyond = sorted(set(scopes) - allowed_scopes(user))
    if beyond:
        raise Forbidden(
            f"You cannot grant {', '.join(beyond)}: your own permissions do not include it.",
            code="insufficient_scope",
        )
    return sorted(set(scopes))


def _require_manager(user: User) -> Membership:
    membership = getattr(user, "membership", None)
    if membership is None or not membership.has_permission("manage_api_tokens"):
        raise Forbidden("You may not manage API keys.", code="forbidden")
    return membership


# --- API tokens -------------------------------------------------------------------------------


@dataclass
class NewSecret:
    obj: object
    secret: str  # shown once, never stored


@transaction.atomic
def token_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    is_test: bool = False,
    context: AuditContext = NO_CONTEXT,
) -> NewSecret:
    membership = _require_manager(user)
    scopes = _check_scopes(user, scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError(
            "The expiry must be in the future.", code="invalid_request", errors={"expires_at": ["In the past."]}
        )
    prefix = secrets.token_hex(6)
    secret = f"{'test' if is_test else 'live'}_{prefix}_{secrets.token_urlsafe(TOKEN_ALPHABET_BYTES)}"
    return _key_create(
        ApiToken,
        membership=membership,
        user=user,
        secret=secret,
        name=name,
        scopes=scopes,
        is_test=is_test,
        context=context,
        prefix=prefix,
        expires_at=expires_at,
    )


def _forget_lookups() -> None:
    """This process drops its copies at once; other workers' expire within a second."""
    transaction.on_commit(localcache.clear)


KeyModel = type[ApiToken] | type[ApiCredential]


def _own_key(model: KeyModel, user: User, pk: int):
    """A token or credential of the user's account, locked; another account's is a 404."""
    membership = _require_manager(user)
    key = model.objects.select_for_update().filter(account_id=membership.account_id, pk=pk).first()
    if key is None:
        raise NotFound(f"No such {'token' if model is ApiToken else 'credential'}.", code="not_found")
    _forget_lookups()
    return key


def _audit_key(action: str, key, user: User, context: AuditContext = NO_CONTEXT, **data) -> None:
    label = {"prefix": key.prefix} if isinstance(key, ApiToken) else {"key_id": key.key_id}
    kind = "api_token" if isinstance(key, ApiToken) else "api_credential"
    audit_record(
        action=f"{kind}.{action}", account=key.account, actor=user, context=context, target=key, data=label | data
    )


def _key_create(
    model: KeyModel,
    *,
    membership: Membership,
    user: User,
    secret: str,
    name: str,
    scopes: list[str],
    is_test: bool,
    context: AuditContext,
    **fields,
) -> NewSecret:
    """A new token or credential of the manager's account (the caller has checked the scopes),
    stored with its secret's digest only, and its audit event."""
    # The maker's row, locked: a deactivation running now (members.services.user_deactivate, which
    # disables the user's keys) finishes first, and a key made for a deactivated user is refused.
    if not User.objects.select_for_update(no_key=True).filter(pk=user.pk, is_active=True).exists():
        raise Forbidden("This user is deactivated: it cannot make API keys.", code="user_inactive")
    key = model.objects.create(
        account=membership.account,
        created_by=user,
        name=name.strip()[:100] or ("API token" if model is ApiToken else "API credential"),
        digest=digest(secret),
        scopes=scopes,
        is_test=is_test,
        **fields,
    )
    _audit_key("created", key, user, context, scopes=scopes, test=is_test)
    change_alert(user=user, change=f"A new {_describe(key)} was created", context=context)
    return NewSecret(key, secret)


def _describe(key: ApiToken | ApiCredential) -> str:
    """The key as the owner's e-mail names it: kind, name, public id and scopes, never the secret."""
    kind = "API token" if isinstance(key, ApiToken) else "API credential"
    ident = key.prefix if isinstance(key, ApiToken) else key.key_id
    return f"{'test ' if key.is_test else ''}{kind} “{key.name}” ({ident}, scopes: {', '.join(key.scopes)})"


def _set_disabled(model: KeyModel, *, user: User, pk: int, disabled: bool, context: AuditContext = NO_CONTEXT):
    key = _own_key(model, user, pk)
    key.disabled = disabled
    key.save(update_fields=["disabled"])
    if disabled:
        # Its access tokens end with it, as on a reset: enabling the key again does not bring back
        # tokens handed out before (to whoever made it worth disabling).
        access_tokens_revoke_all(key=key)
    _audit_key("disabled" if disabled else "enabled", key, user, context)
    return key


def _delete(model: KeyModel, *, user: User, pk: int, context: AuditContext = NO_CONTEXT) -> None:
    key = _own_key(model, user, pk)
    _audit_key("deleted", key, user, context)
    key.delete()


def access_tokens_revoke_all(*, key: ApiToken | ApiCredential) -> int:
    """End every access token a key handed out (also when staff disable it in the admin)."""
    return _access_tokens_end(Q(api_token=key) if isinstance(key, ApiToken) else Q(credential=key))


def _access_tokens_end(which: Q) -> int:
    """Revoke these access tokens for good: no later change to their key brings them back."""
    _forget_lookups()
    return AccessToken.objects.filter(which, revoked_at__isnull=True).update(revoked_at=timezone.now())


@dataclass
class KeysDisabled:
    tokens: list[str]  # the prefixes of the API tokens disabled
    credentials: list[str]  # the key ids of the API credentials disabled
    access_tokens: int  # access tokens ended


def user_keys_disable(*, user: User) -> KeysDisabled:
    """Disable every API token and credential the user made and end every access token they
    handed out, as disabling each key on the API keys page would, for a user being deactivated
    (`members.services.user_deactivate` calls this in its transaction and audits it). Reactivating
    the user enables nothing: the owner enables a key again, or makes a new one, deliberately."""
    disabled = {}
    for model, label in ((ApiToken, "prefix"), (ApiCredential, "key_id")):
        keys = dict(model.objects.select_for_update().filter(created_by=user, disabled=False).values_list("pk", label))
        model.objects.filter(pk__in=keys).update(disabled=True)
        disabled[model] = sorted(keys.values())
    ended = _access_tokens_end(Q(api_token__created_by=user) | Q(credential__created_by=user))
    return KeysDisabled(tokens=disabled[ApiToken], credentials=disabled[ApiCredential], access_tokens=ended)


@transaction.atomic
def token_set_disabled(*, user: User, token_id: int, disabled: bool, context: AuditContext = NO_CONTEXT) -> ApiToken:
    return _set_disabled(ApiToken, user=user, pk=token_id, disabled=disabled, context=context)


@transaction.atomic
def token_delete(*, user: User, token_id: int, context: AuditContext = NO_CONTEXT) -> None:
    _delete(ApiToken, user=user, pk=token_id, context=context)


# --- API credentials --------------------------------------------------------------------------


@transaction.atomic
def credential_create(
    *, user: User, name: str, scopes: list[str], is_test: bool = False, context: AuditContext = NO_CONTEXT
) -> NewSecret:
    membership = _require_manager(user)
    scopes = _check_scopes(user, scopes)
    return _key_create(
        ApiCredential,
        membership=membership,
        user=user,
        secret=_credential_secret(is_test),
        name=name,
        scopes=scopes,
        is_test=is_test,
        context=context,
        key_id="ak_" + secrets.token_hex(8),
    )


def _credential_secret(is_test: bool) -> str:
    return f"{'test' if is_test else 'live'}_{secrets.token_urlsafe(TOKEN_ALPHABET_BYTES)}"


@transaction.atomic
def credential_reset(*, user: User, credential_id: int, context: AuditContext = NO_CONTEXT) -> NewSecret:
    """A new secret; the old one fails from the next request on, and its access tokens with it."""
    credential = _own_key(ApiCredential, user, credential_id)
    # The new secret goes to whoever resets it: a sub-user may not obtain scopes it lacks this way.
    beyond = sorted(set(credential.scopes) - allowed_scopes(user))
    if beyond:
        raise Forbidden(
            f"You cannot reset this credential: it holds {', '.join(beyond)}, which your own permissions "
            "do not include.",
            code="insufficient_scope",
        )
    secret = _credential_secret(credential.is_test)
    previous_holder = credential.created_by
    credential.digest = digest(secret)
    credential.secret_changed_at = timezone.now()
    # Whoever holds the new secret is who the credential now acts for: a sub-user resetting the
    # owner's credential sends under its own monthly limit, sender names and window, not the owner's.
    credential.created_by = user
    credential.save(update_fields=["digest", "secret_changed_at", "created_by"])
    access_tokens_revoke_all(key=credential)
    moved = {"acted_for": previous_holder.email} if previous_holder.pk != user.pk else {}
    _audit_key("reset", credential, user, context, **moved)
    change_alert(user=user, change=f"The secret of the {_describe(credential)} was reset", context=context)
    return NewSecret(credential, secret)


@transaction.atomic
def credential_set_disabled(
    *, user: User, credential_id: int, disabled: bool, context: AuditContext = NO_CONTEXT
) -> ApiCredential:
    return _set_disabled(ApiCredential, user=user, pk=credential_id, disabled=disabled, context=context)


@transaction.atomic
def credential_delete(*, user: User, credential_id: int, context: AuditContext = NO_CONTEXT) -> None:
    _delete(ApiCredential, user=user, pk=credential_id, context=context)


# --- Access tokens ----------------------------------------------------------------------------

ACCESS_PREFIX = "at_"


def access_token_secret(access_id) -> str:
    """The token text is an HMAC of its id: nothing to store, yet the same token can be handed out
    again while it is reused (SPEC §5)."""
    key = hashlib.sha256(("access-token:" + settings.SECRET_KEY).encode()).digest()
    mac = hmac.new(key, str(access_id).encode(), hashlib.sha256).hexdigest()
    return f"{ACCESS_PREFIX}{access_id.hex if hasattr(access_id, 'hex') else access_id}_{mac}"


class KeyChanged(ApplicationError):
    """The key that authenticated a request no longer works (the API answers 401)."""

    status = 401
    code = "unauthenticated"
    title = "Authentication failed"


@transaction.atomic
def access_token_issue(*, parent: ApiToken | ApiCredential, scopes: list[str] | None, ttl: int) -> AccessToken:
    """An access token for a subset of the caller's scopes. The same request (caller, scopes, ttl)
    gets the same token back while more than 1/24 of its life is left."""
    parent_scopes = set(parent.scopes) & allowed_scopes(parent.created_by)
    wanted = sorted(set(scopes) if scopes else parent_scopes)
    beyond = sorted(set(wanted) - parent_scopes)
    if beyond:
        raise Forbidden(f"The caller does not hold {', '.join(beyond)}.", code="insufficient_scope")
    now = timezone.now()
    link = {"api_token": parent} if isinstance(parent, ApiToken) else {"credential": parent}
    # Lock the parent so two identical requests at once agree on one token, and look at it again
    # under the lock: the caller was authenticated against a worker's copy of the row (up to
    # API_LOCAL_CACHE_SECONDS old), and a key reset, disabled or deleted since must not mint a
    # token that outlives the change.
    current = type(parent).objects.select_for_update().filter(pk=parent.pk).first()
    if current is None or not hmac.compare_digest(current.digest, parent.digest) or current.state != "active":
        raise KeyChanged("This key was changed or deleted a moment ago; it no longer authenticates.")
    # Never promised beyond its parent's own expiry (it stops working then anyway).
    expires_at = now + timedelta(seconds=ttl)
    parent_expiry = getattr(current, "expires_at", None)
    if parent_expiry is not None:
        expires_at = min(expires_at, parent_expiry)
    for existing in AccessToken.objects.filter(**link, ttl=ttl, revoked_at__isnull=True, expires_at__gt=now):
        if sorted(existing.scopes) == wanted and (
            existing.expires_at - now > timedelta(seconds=ttl / 24) or existing.expires_at >= expires_at
        ):
            return existing  # (or a new one would not last longer: it ends with its parent)
    return AccessToken.objects.create(
        account_id=parent.account_id, scopes=wanted, ttl=ttl, expires_at=expires_at, **link
    )


@transaction.atomic
def access_token_revoke(*, parent: ApiToken | ApiCredential, access_id) -> None:
    link = {"api_token": parent} if isinstance(parent, ApiToken) else {"credential": parent}
    updated = AccessToken.objects.filter(pk=access_id, revoked_at__isnull=True, **link).update(
        revoked_at=timezone.now()
    )
    if not updated and not AccessToken.objects.filter(pk=access_id, **link).exists():
        raise NotFound("No such access token.", code="not_found")
