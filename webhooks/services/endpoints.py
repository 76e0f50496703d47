"""Endpoints: create, rotate, enable or disable, delete; every change audited (SPEC §3 "webhook
change"), and the per-account index of who listens to what, cached until a change."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record, security_alert
from core import localcache
from core.errors import ApplicationError, Conflict, not_found
from webhooks import signing, ssrf
from webhooks.models import EVENTS, Delivery, Endpoint, display_url

MAX_ENDPOINTS = 20
ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True)
class NewSecret:
    endpoint: Endpoint
    secret: str


# --- Who listens to what (the subscriber's hot path) ----------------------------------------------


def _index_key(account_id: int) -> str:
    return f"webhooks:index:{account_id}"


def endpoint_index(account_id: int) -> dict[str, list[str]]:
    """Event type → ids of the account's enabled endpoints that subscribe to it. Cached per
    process (API_LOCAL_CACHE_SECONDS) and in Redis until a change: an event of an account with no
    endpoint costs no query."""

    def compute() -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for pk, events in Endpoint.objects.filter(account_id=account_id, enabled=True).values_list("pk", "events"):
            for event in events:
                index.setdefault(event, []).append(str(pk))
        return index

    return localcache.shared_remember(_index_key(account_id), compute, timeout=300)


def _index_changed(account_id: int) -> None:
    """Now, for this transaction's own reads, and after the commit, for readers that read the old
    rows meanwhile (core.localcache.shared_changed)."""
    key = _index_key(account_id)
    localcache.shared_changed(key)
    transaction.on_commit(lambda: localcache.shared_changed(key))


# --- Changes ------------------------------------------------------------------------------------


def _events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ApplicationError(f"Unknown event: {', '.join(unknown)}.", errors={"events": ["Unknown event."]})
    if not events:
        raise ApplicationError("Choose at least one event.", errors={"events": ["Choose at least one event."]})
    return sorted(set(events))


def _locked(account_id: int, endpoint_id) -> Endpoint:
    endpoint = Endpoint.objects.select_for_update().filter(account_id=account_id, pk=endpoint_id).first()
    if endpoint is None:
        raise not_found("webhook endpoint")
    return endpoint


def _audit(action: str, endpoint: Endpoint, context: AuditContext, **data) -> None:
    audit_record(
        action=action,
        account=Account(pk=endpoint.account_id),
        context=context,
        target=endpoint,
        data={"url": display_url(endpoint.url), **data},
    )


@transaction.atomic
def endpoint_create(*, account_id: int, url: str, events: list[str], context: AuditContext = NO_CONTEXT) -> NewSecret:
    """A new endpoint, enabled, with a new secret (returned once, kept only encrypted)."""
    events = _events(events)
    ssrf.check_url(url)
    # The account's row lock serialises two creations, so the cap holds.
    Account.objects.select_for_update(no_key=True).only("id").get(pk=account_id)
    if Endpoint.objects.filter(account_id=account_id).count() >= MAX_ENDPOINTS:
        raise Conflict(f"An account can have at most {MAX_ENDPOINTS} webhook endpoints.", code="too_many_endpoints")
    secret = signing.secret_new()
    endpoint = Endpoint.objects.create(
        account_id=account_id, url=url.strip(), events=events, secret_encrypted=signing.encrypt(secret)
    )
    _index_changed(account_id)
    _audit("webhook.created", endpoint, context, events=events)
    return NewSecret(endpoint, secret)


@transaction.atomic
def endpoint_rotate(*, account_id: int, endpoint_id, context: AuditContext = NO_CONTEXT) -> NewSecret:
    """A new secret; the current one keeps signing beside it for ROTATION_OVERLAP (the Standard
    Webhooks header carries both), so receivers can switch without losing an event."""
    endpoint = _locked(account_id, endpoint_id)
    secret = signing.secret_new()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
    endpoint.secret_encrypted = signing.encrypt(secret)
    endpoint.save(update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at"])
    _audit("webhook.secret_rotated", endpoint, context)
    return NewSecret(endpoint, secret)


@transaction.atomic
def endpoint_set_enabled(
    *, account_id: int, endpoint_id, enabled: bool, context: AuditContext = NO_CONTEXT
) -> Endpoint:
    """Switch an endpoint on (its URL checked again; deliveries waiting for it go out) or off."""
    endpoint = _locked(account_id, endpoint_id)
    if endpoint.enabled == enabled:
        return endpoint
    now = timezone.now()
    if enabled:
        ssrf.check_url(endpoint.url)
        endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = None, "", None
        Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).update(next_attempt_at=now)
    else:
        endpoint.disabled_at, endpoint.disabled_reason = now, "disabled by a user"
    endpoint.enabled = enabled
    endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason", "failing_since"])
    _index_changed(account_id)
    _audit("webhook.enabled" if enabled else "webhook.disabled", endpoint, context)
    if enabled:
        from webhooks.services.sending import kick

        kick([endpoint.pk])
    return endpoint


@transaction.atomic
def endpoint_delete(*, account_id: int, endpoint_id, context: AuditContext = NO_CONTEXT) -> None:
    endpoint = _locked(account_id, endpoint_id)
    _audit("webhook.deleted", endpoint, context)
    endpoint.delete()
    _index_changed(account_id)


def endpoint_disable_automatically(*, endpoint_id, reason: str) -> bool:
    """The product switches an endpoint off (it answered 410 Gone, or failed for days): audited,
    and the owner is told by e-mail. False when it was off already."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id, enabled=True).first()
        if endpoint is None:
            return False
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason[:200]
        endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason"])
        _index_changed(endpoint.account_id)
        _audit("webhook.disabled", endpoint, NO_CONTEXT, reason=reason)
        security_alert(
            account=Account(pk=endpoint.account_id),
            kind=f"webhook_disabled:{endpoint.pk}",
            subject="A webhook endpoint was disabled",
            body=(
                f"We stopped sending webhooks to {display_url(endpoint.url)} at {now:%Y-%m-%d %H:%M:%S} UTC: "
                f"{reason}.\n\nThe events already waiting for it are kept for up to 24 hours; events from now "
                "on are not recorded for it until it is enabled again. Once the receiver works, enable the "
                "endpoint on the Webhooks page of the portal's security section."
            ),
        )
    return True


def signing_secrets(endpoint: Endpoint) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its overlap."""
    secrets_ = [signing.decrypt(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > timezone.now():
        secrets_.append(signing.decrypt(endpoint.previous_secret_encrypted))
    return secrets_
