"""What a manager may do to a member: no escalation of permissions, limits, windows or sender names."""

from collections.abc import Iterable
from datetime import time
from decimal import Decimal

from accounts.models import Account, Membership, User
from audit.context import AuditContext
from audit.services import audit_record
from core.errors import ApplicationError, Forbidden, NotFound
from core.text import points_label
from core.timezones import zone_exists
from messaging.models import SenderName

# The fields `subuser_update` changes (the audit event names those that changed).
LIMIT_FIELDS = ("monthly_limit", "window_weekdays", "window_start", "window_end", "window_timezone")


def member_state(user: User) -> str:
    """`invited` (never accepted), `active` or `deactivated`."""
    if user.is_active:
        return "active"
    if not user.has_usable_password() and user.last_login is None:
        return "invited"
    return "deactivated"


def forbidden(detail: str = "You may not manage the users of this account.") -> ApplicationError:
    return Forbidden(detail, code="forbidden")


def not_found() -> ApplicationError:
    return NotFound("No such user in this account.", code="not_found")


def manager_membership(actor: User) -> Membership:
    membership: Membership | None = getattr(actor, "membership", None)
    if membership is None or not actor.is_active or not membership.has_permission("manage_users"):
        raise forbidden()
    return membership


def lock_pair(*, actor: User, membership_id: int) -> tuple[Membership, Membership]:
    """The actor's and the member's memberships, locked in primary-key order, fresh from the
    database. The member must belong to the actor's account (else a 404)."""
    manager = manager_membership(actor)
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
        raise forbidden()
    target = rows.get(membership_id)
    if target is None:
        raise not_found()
    return manager, target


def check_manageable(manager: Membership, target: Membership) -> None:
    if target.is_owner:
        raise forbidden("The account owner cannot be changed or deactivated here.")
    if target.user_id == manager.user_id:
        raise forbidden("You cannot change or deactivate your own access. Ask the account owner.")
    if manager.is_owner:
        return
    if target.manage_users:
        raise forbidden("Only the account owner can change a member who manages users.")
    beyond = target.permissions() - manager.permissions()
    if beyond:
        raise forbidden(
            f"This member holds permissions you do not have ({', '.join(sorted(beyond))}): only the account owner "
            "can change them."
        )
    # Nor a member less limited than the manager: managing it would hand on more than it has.
    if manager.monthly_limit is not None and (
        target.monthly_limit is None or target.monthly_limit > manager.monthly_limit
    ):
        raise forbidden("This member's monthly limit is above yours: only the account owner can change them.")
    own = sender_ids(manager)
    if own and not (sender_ids(target) and sender_ids(target) <= own):
        raise forbidden("This member may use sender names you may not: only the account owner can change them.")
    if has_window(manager) and window_of(target) != window_of(manager):
        raise forbidden("This member's sending window differs from yours: only the account owner can change them.")


def sender_ids(membership: Membership) -> set[int]:
    return set(membership.allowed_senders.values_list("pk", flat=True))


def has_window(membership: Membership) -> bool:
    return membership.window_start is not None or bool(membership.window_weekdays)


def window_of(membership: Membership) -> tuple:
    return (
        sorted(membership.window_weekdays or []),
        membership.window_start,
        membership.window_end,
        membership.window_timezone,
    )


def subuser_check_manageable(*, actor: User, membership: Membership) -> None:
    """For pages: raise the ApplicationError a change of this member would raise."""
    check_manageable(manager_membership(actor), membership)


def grantable_permissions(actor: User) -> list[str]:
    """The permissions `actor` may hand out, in the model's order."""
    membership: Membership | None = getattr(actor, "membership", None)
    if membership is None or not membership.has_permission("manage_users"):
        return []
    if membership.is_owner:
        return list(Membership.PERMISSIONS)
    return [name for name in Membership.PERMISSIONS if name != "manage_users" and membership.has_permission(name)]


def check_permissions(manager: Membership, permissions: set[str]) -> None:
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


def check_limit(manager: Membership, monthly_limit: Decimal | None) -> None:
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
            f"Your own monthly limit is {points_label(manager.monthly_limit)}: you cannot give a larger one, or none.",
            code="permission_escalation",
            errors={"monthly_limit": [f"At most {points_label(manager.monthly_limit)} (your own limit)."]},
        )


def as_json(value):
    """An audit-friendly copy of a field value (JSON has no Decimal or time)."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    return value


def audit_member(action: str, manager: Membership, actor: User, user: User, context: AuditContext, **data) -> None:
    """A manager's act on a member, on the account's audit trail (the member's user is the target)."""
    audit_record(action=action, account=manager.account, actor=actor, context=context, target=user, data=data)


def check_window(
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
    if not zone_exists(tz):
        errors["window_timezone"] = ["Not a known time zone (use a name such as Europe/Warsaw)."]
    if errors:
        raise ApplicationError("Check the sending window.", code="invalid_request", errors=errors)
    return days, start, end, tz


def check_senders(manager: Membership, account: Account, sender_ids: Iterable[int]) -> set[int]:
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
