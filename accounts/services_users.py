"""Sub-users (SPEC §3, §4.7): invite by e-mail, edit permissions and limits, deactivate.

The rules live here, not in the views:

* every member is looked up inside the caller's account (another account's member is a 404);
* the owner is never changed here, and nobody changes or deactivates themselves;
* a manager who is not the owner ("manage_users" sub-user) manages only members who hold no
  permission the manager lacks and who do not manage users themselves, grants only permissions
  it holds, never grants "manage_users" (only the owner does), and, when it has a monthly limit
  or is restricted to some sender names, gives no one a larger limit (or none) or other names;
* the manager's and the member's memberships are locked (in primary-key order) for the whole
  change, so two managers saving at once cannot lose an update, and a manager whose own rights
  were just cut cannot use them a moment later;
* each change writes an audit event naming the changed fields with old → new values.

Invitation links carry a single-use token made by `InvitationTokenGenerator`: it is made in the
Celery task that sends the e-mail (only the user id reaches the broker), dies when the password is
set (or a new invitation is sent) and expires after `INVITATION_TIMEOUT`.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable
from datetime import time, timedelta
from decimal import Decimal

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import Account, Membership, User
from accounts.services import _check_password, _queue_after_commit, audit_record, user_deactivate
from core import localcache, ratelimit
from core.errors import ApplicationError, Conflict, Forbidden, NotFound, RateLimited

INVITATION_TIMEOUT = timedelta(days=7)
INVITES_PER_ACCOUNT_PER_HOUR = 50
RESENDS_PER_INVITEE_PER_HOUR = 5

# The fields `subuser_update` changes (the audit event names those that changed).
LIMIT_FIELDS = ("monthly_limit", "window_weekdays", "window_start", "window_end", "window_timezone")


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset tokens with their own salt and a 7-day life. The hash covers the password
    hash and the active flag: setting the password (accepting) or sending a new invitation (a new
    unusable password) kills every earlier link."""

    key_salt = "accounts.services_users.InvitationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}{int(user.is_active)}"

    def check_token(self, user, token) -> bool:
        # Django's check_token reads PASSWORD_RESET_TIMEOUT (one hour); this one uses its own.
        if not (user and token) or not isinstance(token, str):
            return False
        try:
            ts_b36, _ = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token):
                break
        else:
            return False
        return (self._num_seconds(self._now()) - ts) <= INVITATION_TIMEOUT.total_seconds()


invitation_token_generator = InvitationTokenGenerator()


# --- Helpers ----------------------------------------------------------------------------------


def member_state(user: User) -> str:
    """`invited` (never accepted), `active` or `deactivated`."""
    if user.is_active:
        return "active"
    if not user.has_usable_password() and user.last_login is None:
        return "invited"
    return "deactivated"


@functools.cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _forbidden(detail: str = "You may not manage the users of this account.") -> ApplicationError:
    return Forbidden(detail, code="forbidden")


def _not_found() -> ApplicationError:
    return NotFound("No such user in this account.", code="not_found")


def _manager_membership(actor: User) -> Membership:
    membership: Membership | None = getattr(actor, "membership", None)
    if membership is None or not actor.is_active or not membership.has_permission("manage_users"):
        raise _forbidden()
    return membership


def _lock(*, actor: User, membership_id: int) -> tuple[Membership, Membership]:
    """The actor's and the member's memberships, locked in primary-key order, fresh from the
    database. The member must belong to the actor's account (else a 404)."""
    manager = _manager_membership(actor)
    rows = {
        row.pk: row
        # `of=self`: the joined account row stays unlocked (a send locks the account, then the
        # membership; locking them the other way round here would deadlock with it).
        for row in Membership.objects.select_for_update(no_key=True, of=("self",))
        .select_related("user", "account")
        .filter(pk__in={manager.pk, membership_id}, account_id=manager.account_id)
        .order_by("pk")
    }
    manager = rows.get(manager.pk)
    if manager is None or not manager.has_permission("manage_users"):  # lost meanwhile
        raise _forbidden()
    target = rows.get(membership_id)
    if target is None:
        raise _not_found()
    return manager, target


def _check_manageable(manager: Membership, target: Membership) -> None:
    if target.is_owner:
        raise _forbidden("The account owner cannot be changed or deactivated here.")
    if target.user_id == manager.user_id:
        raise _forbidden("You cannot change or deactivate your own access. Ask the account owner.")
    if manager.is_owner:
        return
    if target.manage_users:
        raise _forbidden("Only the account owner can change a member who manages users.")
    beyond = target.permissions() - manager.permissions()
    if beyond:
        raise _forbidden(
            f"This member holds permissions you do not have ({', '.join(sorted(beyond))}): only the account owner "
            "can change them."
        )
    # Nor a member less limited than the manager: managing it would hand on more than it has.
    if manager.monthly_limit is not None and (
        target.monthly_limit is None or target.monthly_limit > manager.monthly_limit
    ):
        raise _forbidden("This member's monthly limit is above yours: only the account owner can change them.")
    own = _sender_ids(manager)
    if own and not (_sender_ids(target) and _sender_ids(target) <= own):
        raise _forbidden("This member may use sender names you may not: only the account owner can change them.")
    if _has_window(manager) and _window(target) != _window(manager):
        raise _forbidden("This member's sending window differs from yours: only the account owner can change them.")


def _sender_ids(membership: Membership) -> set[int]:
    return set(membership.allowed_senders.values_list("pk", flat=True))


def _has_window(membership: Membership) -> bool:
    return membership.window_start is not None or bool(membership.window_weekdays)


def _window(membership: Membership) -> tuple:
    return (
        sorted(membership.window_weekdays or []),
        membership.window_start,
        membership.window_end,
        membership.window_timezone,
    )


def subuser_check_manageable(*, actor: User, membership: Membership) -> None:
    """For pages: raise the ApplicationError a change of this member would raise."""
    _check_manageable(_manager_membership(actor), membership)


def grantable_permissions(actor: User) -> list[str]:
    """The permissions `actor` may hand out, in the model's order."""
    membership: Membership | None = getattr(actor, "membership", None)
    if membership is None or not membership.has_permission("manage_users"):
        return []
    if membership.is_owner:
        return list(Membership.PERMISSIONS)
    return [name for name in Membership.PERMISSIONS if name != "manage_users" and membership.has_permission(name)]


def _check_permissions(manager: Membership, permissions: set[str]) -> None:
    unknown = permissions - set(Membership.PERMISSIONS)
    if unknown:
        raise ApplicationError(
            f"Unknown permission: {', '.join(sorted(unknown))}.",
            code="invalid_request",
            errors={"permissions": ["Unknown permission."]},
        )
    if manager.is_owner:
        return
    if "manage_users" in permissions:
        raise Forbidden(
            "Only the account owner can let a member manage users.",
            code="permission_escalation",
            errors={"permissions": ["Only the account owner can grant “manage users”."]},
        )
    beyond = permissions - manager.permissions()
    if beyond:
        raise Forbidden(
            f"You cannot grant {', '.join(sorted(beyond))}: your own permissions do not include it.",
            code="permission_escalation",
            errors={"permissions": [f"You cannot grant {', '.join(sorted(beyond))}."]},
        )


def _check_limit(manager: Membership, monthly_limit: Decimal | None) -> None:
    if monthly_limit is not None and (not monthly_limit.is_finite() or monthly_limit < 0):
        raise ApplicationError(
            "The monthly limit cannot be negative.",
            code="invalid_request",
            errors={"monthly_limit": ["Enter 0 or more points, or leave it empty for no limit."]},
        )
    if manager.is_owner or manager.monthly_limit is None:
        return
    if monthly_limit is None or monthly_limit > manager.monthly_limit:
        raise Forbidden(
            f"Your own monthly limit is {manager.monthly_limit:f} points: you cannot give a larger one, or none.",
            code="permission_escalation",
            errors={"monthly_limit": [f"At most {manager.monthly_limit:f} points (your own limit)."]},
        )


def _normalize_email(email: str) -> str:
    value = User.objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ApplicationError(
            "Enter a valid e-mail address.", code="invalid_request", errors={"email": ["Enter a valid e-mail address."]}
        ) from exc
    return value


def _email_taken() -> ApplicationError:
    return ApplicationError(
        "A user with this e-mail address already exists.",
        code="email_taken",
        errors={"email": ["A user with this e-mail address already exists. Each person can belong to one account."]},
    )


def _json(value):
    """An audit-friendly copy of a field value (JSON has no Decimal or time)."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    return value


def _queue_invitation(user: User, *, domain: str, use_https: bool) -> None:
    from accounts.tasks import send_invitation_email

    _queue_after_commit(
        send_invitation_email,
        kwargs={"user_id": user.pk, "domain": domain, "use_https": use_https},
        expires=int(INVITATION_TIMEOUT.total_seconds()),
    )


# --- Invitations ------------------------------------------------------------------------------


@transaction.atomic
def subuser_invite(
    *,
    actor: User,
    email: str,
    permissions: Iterable[str],
    monthly_limit: Decimal | None = None,
    domain: str,
    use_https: bool,
    request: HttpRequest | None = None,
) -> Membership:
    """An inactive user with an unusable password and its sub-user membership, made together,
    and an invitation e-mail queued once they are committed."""
    manager = _manager_membership(actor)
    manager = (
        Membership.objects.select_for_update(no_key=True, of=("self",)).select_related("account").get(pk=manager.pk)
    )
    if not manager.has_permission("manage_users"):
        raise _forbidden()
    email = _normalize_email(email)
    granted = set(permissions)
    _check_permissions(manager, granted)
    _check_limit(manager, monthly_limit)
    if User.objects.filter(email=email).exists():
        raise _email_taken()
    if not ratelimit.hit(f"invite:{manager.account_id}", limit=INVITES_PER_ACCOUNT_PER_HOUR, window_seconds=3600):
        raise RateLimited("Too many invitations in the last hour. Try again later.", code="rate_limited")
    user = User(email=email, is_active=False)
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # the same address registered a moment ago
        raise _email_taken() from exc
    # A manager confined to a sending window or to some sender names hands the same on: never more.
    inherited = {}
    if not manager.is_owner and _has_window(manager):
        inherited = dict(
            zip(("window_weekdays", "window_start", "window_end", "window_timezone"), _window(manager), strict=True)
        )
    membership = Membership.objects.create(
        user=user,
        account=manager.account,
        role=Membership.Role.SUBUSER,
        monthly_limit=monthly_limit,
        **inherited,
        **{name: name in granted for name in Membership.PERMISSIONS},
    )
    if not manager.is_owner and _sender_ids(manager):
        membership.allowed_senders.set(_sender_ids(manager))
    audit_record(
        action="subuser.invited",
        account=manager.account,
        actor=actor,
        request=request,
        target=user,
        data={
            "email": email,
            "permissions": sorted(granted),
            "monthly_limit": _json(monthly_limit),
        },
    )
    _queue_invitation(user, domain=domain, use_https=use_https)
    return membership


@transaction.atomic
def subuser_invitation_resend(
    *, actor: User, membership_id: int, domain: str, use_https: bool, request: HttpRequest | None = None
) -> Membership:
    """A new invitation e-mail; the links sent before stop working (a new unusable password)."""
    manager, target = _lock(actor=actor, membership_id=membership_id)
    _check_manageable(manager, target)
    user = User.objects.select_for_update().get(pk=target.user_id)
    if member_state(user) != "invited":
        raise Conflict("This user has already accepted the invitation.", code="not_invited")
    if not ratelimit.hit(f"invite-resend:{user.pk}", limit=RESENDS_PER_INVITEE_PER_HOUR, window_seconds=3600):
        raise RateLimited(
            "This invitation was sent several times in the last hour. Try again later.",
            code="rate_limited",
        )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    audit_record(
        action="subuser.invitation_resent",
        account=manager.account,
        actor=actor,
        request=request,
        target=user,
        data={"email": user.email},
    )
    _queue_invitation(user, domain=domain, use_https=use_https)
    target.user = user
    return target


@transaction.atomic
def subuser_invitation_cancel(*, actor: User, membership_id: int, request: HttpRequest | None = None) -> str:
    """Delete a user that never accepted its invitation (its link dies with it). Returns the
    address."""
    manager, target = _lock(actor=actor, membership_id=membership_id)
    _check_manageable(manager, target)
    user = User.objects.select_for_update().get(pk=target.user_id)
    if member_state(user) != "invited":
        raise Conflict("This user has already accepted the invitation: deactivate it instead.", code="not_invited")
    audit_record(
        action="subuser.invitation_canceled",
        account=manager.account,
        actor=actor,
        request=request,
        target=user,
        data={"email": user.email},
    )
    email = user.email
    user.delete()  # the membership goes with it
    return email


def invitation_user(*, uidb64: str, token: str) -> User | None:
    """The invited user this link is for, or None when the link is wrong, used or expired."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.select_related("membership__account").filter(pk=pk).first()
    if user is None or member_state(user) != "invited" or getattr(user, "membership", None) is None:
        return None
    return user if invitation_token_generator.check_token(user, token) else None


def invitation_accept(*, uidb64: str, token: str, password: str, request: HttpRequest | None = None) -> User:
    """Set the invited user's first password (under the full policy) and activate them. The token
    is checked again under the user's row lock, so one link sets a password once."""
    with transaction.atomic():
        found = invitation_user(uidb64=uidb64, token=token)
        user = User.objects.select_for_update().filter(pk=found.pk).first() if found is not None else None
        if user is None or member_state(user) != "invited" or not invitation_token_generator.check_token(user, token):
            raise ApplicationError(
                "This invitation link is not valid any more: it was used already, replaced by a newer one, or it "
                "has expired. Ask the person who invited you to send a new one.",
                code="invitation_invalid",
            )
        _check_password(password, user)
        user.set_password(password)
        user.is_active = True
        user.password_changed_at = timezone.now()
        user.save(update_fields=["password", "is_active", "password_changed_at"])
        account = Account.objects.get(memberships__user=user)
        audit_record(
            action="subuser.invitation_accepted",
            account=account,
            actor=user,
            request=request,
            target=user,
            data={"email": user.email},
        )
    return user


def invitation_email_send(*, user_id: int, domain: str, use_https: bool) -> bool:
    """The invitation task's work: a fresh token and link, sent now. False when the user is no
    longer waiting for an invitation (accepted, canceled, deactivated)."""
    user = User.objects.select_related("membership__account").filter(pk=user_id).first()
    if user is None or getattr(user, "membership", None) is None or member_state(user) != "invited":
        return False
    context = {
        "email": user.email,
        "account_name": user.membership.account.name,
        "domain": domain,
        "protocol": "https" if use_https else "http",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": invitation_token_generator.make_token(user),
        "days": INVITATION_TIMEOUT.days,
    }
    subject = "".join(render_to_string("accounts/email/invitation_subject.txt", context).splitlines())
    send_mail(subject, render_to_string("accounts/email/invitation.txt", context), None, [user.email])
    return True


# --- Changes to a member ----------------------------------------------------------------------


def _check_window(
    *, weekdays: list[int], start: time | None, end: time | None, tz: str
) -> tuple[list[int], time | None, time | None, str]:
    errors: dict[str, list[str]] = {}
    try:
        days = sorted({int(day) for day in weekdays})
    except (TypeError, ValueError):
        days = [0]
    if any(day < 1 or day > 7 for day in days):
        errors["window_weekdays"] = ["Choose days from Monday to Sunday."]
    if (start is None) != (end is None):
        errors["window_end" if end is None else "window_start"] = ["Give both the start and the end, or neither."]
    elif start is not None and start == end:
        errors["window_end"] = ["The end must differ from the start (22:00 to 06:00, overnight, is fine)."]
    tz = (tz or "UTC").strip()
    if tz not in time_zones():
        errors["window_timezone"] = ["Not a known time zone (use a name such as Europe/Warsaw)."]
    if errors:
        raise ApplicationError("Check the sending window.", code="invalid_request", errors=errors)
    return days, start, end, tz


def _check_senders(manager: Membership, account: Account, sender_ids: Iterable[int]) -> set[int]:
    from messaging.models import SenderName

    wanted = {int(pk) for pk in sender_ids}
    approved = set(
        SenderName.objects.filter(account=account, status=SenderName.Status.APPROVED, pk__in=wanted).values_list(
            "pk", flat=True
        )
    )
    if wanted - approved:
        raise ApplicationError(
            "Choose among the account's approved sender names.",
            code="invalid_request",
            errors={"allowed_senders": ["Choose among the account's approved sender names."]},
        )
    if not manager.is_owner:
        own = set(manager.allowed_senders.values_list("pk", flat=True))
        if own and (not wanted or wanted - own):
            raise Forbidden(
                "You are limited to some sender names: you can give only those.",
                code="permission_escalation",
                errors={"allowed_senders": ["Choose only among your own sender names (at least one)."]},
            )
    return wanted


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
    request: HttpRequest | None = None,
) -> Membership:
    """Change a member's permissions and limits: `permissions` maps the flags to set to their new
    value (the others stay), and every other field left UNCHANGED stays as it is. So two managers
    who change different things at once both keep their change (the page sends only what its
    user changed); the rows are locked while the change is checked and written.

    Only the changed columns are written (the monthly spend, moved by sending under the same
    lock, is never overwritten); the member's API keys follow the new permissions on their next
    request."""
    manager, target = _lock(actor=actor, membership_id=membership_id)
    _check_manageable(manager, target)
    flags = dict(permissions or {})
    _check_permissions(manager, {name for name in flags if name not in Membership.PERMISSIONS})
    _check_permissions(manager, {name for name, on in flags.items() if on})

    new: dict = {name: bool(on) for name, on in flags.items()}
    if monthly_limit is not UNCHANGED:
        _check_limit(manager, monthly_limit)
        new["monthly_limit"] = monthly_limit
    window = {
        "window_weekdays": window_weekdays,
        "window_start": window_start,
        "window_end": window_end,
        "window_timezone": window_timezone,
    }
    if any(value is not UNCHANGED for value in window.values()):
        if not manager.is_owner and _has_window(manager):
            raise Forbidden(
                "You send within a window yourself: only the account owner can change a member's window.",
                code="permission_escalation",
                errors={"window_weekdays": ["Only the account owner can change this."]},
            )
        merged = {field: getattr(target, field) if value is UNCHANGED else value for field, value in window.items()}
        days, start, end, tz = _check_window(
            weekdays=merged["window_weekdays"] or [],
            start=merged["window_start"],
            end=merged["window_end"],
            tz=merged["window_timezone"],
        )
        new.update(window_weekdays=days, window_start=start, window_end=end, window_timezone=tz)
    senders = None
    if allowed_sender_ids is not UNCHANGED:
        senders = _check_senders(manager, manager.account, allowed_sender_ids)

    changes: dict[str, list] = {}
    for field, value in new.items():
        old = getattr(target, field)
        if field == "monthly_limit" and old is not None and value is not None:
            differs = Decimal(old) != Decimal(value)
        else:
            differs = old != value
        if differs:
            changes[field] = [_json(old), _json(value)]
            setattr(target, field, value)
    if changes:
        target.save(update_fields=[*changes, "updated_at"])
    if senders is not None:
        old_senders = dict(target.allowed_senders.values_list("pk", "name"))
        # Names no longer approved are not on the page: choosing among the approved ones keeps them
        # (so a restricted member never becomes unrestricted without anyone choosing it).
        from messaging.models import SenderName

        senders |= set(target.allowed_senders.exclude(status=SenderName.Status.APPROVED).values_list("pk", flat=True))
        if set(old_senders) != senders:
            from messaging.models import SenderName

            target.allowed_senders.set(senders)
            new_names = SenderName.objects.filter(pk__in=senders).values_list("name", flat=True)
            changes["allowed_senders"] = [sorted(old_senders.values()), sorted(new_names)]
    if changes:
        # This process forgets its cached key lookups (which hold the key maker's permissions)
        # and allowed sender names once this commits; other workers within
        # API_LOCAL_CACHE_SECONDS. A key's scopes are cut to its maker's permissions per request.
        transaction.on_commit(localcache.clear)
        audit_record(
            action="subuser.updated",
            account=manager.account,
            actor=actor,
            request=request,
            target=target.user,
            data={"changes": changes},
        )
    return target


@transaction.atomic
def subuser_deactivate(*, actor: User, membership_id: int, request: HttpRequest | None = None) -> Membership:
    """Sign the member out everywhere and stop its API keys (user_deactivate audits it)."""
    manager, target = _lock(actor=actor, membership_id=membership_id)
    _check_manageable(manager, target)
    state = member_state(target.user)
    if state == "invited":
        raise Conflict(
            "This user has not accepted the invitation yet: cancel the invitation instead.",
            code="not_active",
        )
    if state == "deactivated":
        raise Conflict("This user is already deactivated.", code="not_active")
    User.objects.select_for_update().filter(pk=target.user_id).first()
    user_deactivate(user=target.user, actor=actor, request=request)
    return target


@transaction.atomic
def subuser_reactivate(*, actor: User, membership_id: int, request: HttpRequest | None = None) -> Membership:
    """Let a deactivated member sign in again. Its API keys work again too, still cut to its
    current permissions; sessions ended at deactivation stay ended."""
    manager, target = _lock(actor=actor, membership_id=membership_id)
    _check_manageable(manager, target)
    if member_state(target.user) != "deactivated":
        raise Conflict("Only a deactivated user can be reactivated.", code="not_deactivated")
    User.objects.filter(pk=target.user_id).update(is_active=True)
    target.user.is_active = True
    transaction.on_commit(localcache.clear)
    audit_record(
        action="user.reactivated",
        account=manager.account,
        actor=actor,
        request=request,
        target=target.user,
    )
    return target
