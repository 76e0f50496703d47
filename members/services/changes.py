"""Changing a member: permissions, monthly limit, sending window, sender names; deactivation."""

from collections.abc import Iterable
from datetime import time
from decimal import Decimal

from django.db import transaction

from accounts.models import Membership, User
from apikeys.services import user_keys_disable
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core import localcache
from core.errors import Conflict, Forbidden
from members.services.rules import (
    as_json,
    audit_member,
    check_limit,
    check_manageable,
    check_permissions,
    check_senders,
    check_window,
    has_window,
    lock_pair,
    member_state,
)
from messaging.models import SenderName
from security.services import sessions_end


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()  # a field `subuser_update` leaves as it is


@transaction.atomic
def subuser_update(
    *,
    actor: User,
    membership_id: int,
    permissions: dict[str, bool] | None = None,
    monthly_limit: Decimal | _Unchanged | None = UNCHANGED,
    window_weekdays: list[int] | _Unchanged = UNCHANGED,
    window_start: time | _Unchanged | None = UNCHANGED,
    window_end: time | _Unchanged | None = UNCHANGED,
    window_timezone: str | _Unchanged = UNCHANGED,
    allowed_sender_ids: Iterable[int] | _Unchanged = UNCHANGED,
    context: AuditContext = NO_CONTEXT,
) -> Membership:
    """Change a member's permissions and limits: `permissions` maps the flags to set to their new
    value (the others stay), and every other field left UNCHANGED stays as it is. So two managers
    who change different things at once both keep their change (the page sends only what its
    user changed); the rows are locked while the change is checked and written.

    Only the changed columns are written (the monthly spend, moved by sending under the same
    lock, is never overwritten); the member's API keys follow the new permissions on their next
    request."""
    manager, target = lock_pair(actor=actor, membership_id=membership_id)
    check_manageable(manager, target)
    flags = dict(permissions or {})
    check_permissions(manager, {name for name in flags if name not in Membership.PERMISSIONS})
    check_permissions(manager, {name for name, on in flags.items() if on})

    new: dict = {name: bool(on) for name, on in flags.items()}
    if monthly_limit is not UNCHANGED:
        check_limit(manager, monthly_limit)
        new["monthly_limit"] = monthly_limit
    window = {
        "window_weekdays": window_weekdays,
        "window_start": window_start,
        "window_end": window_end,
        "window_timezone": window_timezone,
    }
    if any(value is not UNCHANGED for value in window.values()):
        if not manager.is_owner and has_window(manager):
            raise Forbidden(
                "You send within a window yourself: only the account owner can change a member's window.",
                code="permission_escalation",
                errors={"window_weekdays": ["Only the account owner can change this."]},
            )
        merged = {field: getattr(target, field) if value is UNCHANGED else value for field, value in window.items()}
        days, start, end, tz = check_window(
            weekdays=merged["window_weekdays"] or [],
            start=merged["window_start"],
            end=merged["window_end"],
            tz=merged["window_timezone"],
        )
        new.update(window_weekdays=days, window_start=start, window_end=end, window_timezone=tz)
    senders = None
    if allowed_sender_ids is not UNCHANGED:
        senders = check_senders(manager, manager.account, allowed_sender_ids)

    changes: dict[str, list] = {}
    for field, value in new.items():
        old = getattr(target, field)
        if field == "monthly_limit" and old is not None and value is not None:
            differs = Decimal(old) != Decimal(value)
        else:
            differs = old != value
        if differs:
            changes[field] = [as_json(old), as_json(value)]
            setattr(target, field, value)
    if changes:
        target.save(update_fields=[*changes, "updated_at"])
    if senders is not None:
        old_senders = dict(target.allowed_senders.values_list("pk", "name"))
        # Names no longer approved are not on the page: choosing among the approved ones keeps them
        # (so a restricted member never becomes unrestricted without anyone choosing it).
        senders |= set(target.allowed_senders.exclude(status=SenderName.Status.APPROVED).values_list("pk", flat=True))
        if set(old_senders) != senders:
            target.allowed_senders.set(senders)
            new_names = SenderName.objects.filter(pk__in=senders).values_list("name", flat=True)
            changes["allowed_senders"] = [sorted(old_senders.values()), sorted(new_names)]
    if changes:
        # This process forgets its cached key lookups (which hold the key maker's permissions)
        # and allowed sender names once this commits; other workers within
        # API_LOCAL_CACHE_SECONDS. A key's scopes are cut to its maker's permissions per request.
        transaction.on_commit(localcache.clear)
        audit_member("subuser.updated", manager, actor, target.user, context, changes=changes)
    return target


@transaction.atomic
def user_deactivate(*, user: User, actor: User | None, context: AuditContext = NO_CONTEXT) -> None:
    """The one way a user is deactivated (the Users page through `subuser_deactivate`, staff in the
    admin: members/admin.py), in one transaction: signed out everywhere (sessions and sign-ins
    waiting for a code), every API key it made disabled and every access token they handed out
    ended, and one `user.deactivated` event listing the keys. Reactivating brings none back."""
    User.objects.filter(pk=user.pk).update(is_active=False)  # (the row lock key creation waits on)
    user.is_active = False
    sessions_end(user=user)
    keys = user_keys_disable(user=user)
    transaction.on_commit(localcache.clear)  # its keys stop at once here, within a second elsewhere
    audit_record(
        action="user.deactivated",
        account=user.account,
        actor=actor,
        context=context,
        target=user,
        data={
            "api_tokens_disabled": keys.tokens,
            "api_credentials_disabled": keys.credentials,
            "access_tokens_ended": keys.access_tokens,
        },
    )


@transaction.atomic
def subuser_deactivate(*, actor: User, membership_id: int, context: AuditContext = NO_CONTEXT) -> Membership:
    """Deactivate a member its manager may manage (user_deactivate does it and audits it)."""
    manager, target = lock_pair(actor=actor, membership_id=membership_id)
    check_manageable(manager, target)
    state = member_state(target.user)
    if state == "invited":
        raise Conflict(
            "This user has not accepted the invitation yet: cancel the invitation instead.",
            code="not_active",
        )
    if state == "deactivated":
        raise Conflict("This user is already deactivated.", code="not_active")
    user_deactivate(user=target.user, actor=actor, context=context)
    return target


@transaction.atomic
def subuser_reactivate(*, actor: User, membership_id: int, context: AuditContext = NO_CONTEXT) -> Membership:
    """Let a deactivated member sign in again. Sessions ended and API keys disabled at
    deactivation stay so: the owner (or a member with `manage_api_tokens`) enables a key again,
    or makes a new one, on the API keys page."""
    manager, target = lock_pair(actor=actor, membership_id=membership_id)
    check_manageable(manager, target)
    if member_state(target.user) != "deactivated":
        raise Conflict("Only a deactivated user can be reactivated.", code="not_deactivated")
    User.objects.filter(pk=target.user_id).update(is_active=True)
    target.user.is_active = True
    transaction.on_commit(localcache.clear)
    audit_member("user.reactivated", manager, actor, target.user, context)
    return target
