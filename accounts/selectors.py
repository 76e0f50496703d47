import hashlib

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import AuditEvent, IPAllowlistEntry, KnownDevice, Membership, User, UserSession


def session_public_id(session_key: str) -> str:
    """A stable, non-secret handle for a session in pages and forms (the key itself is a secret)."""
    return hashlib.sha256(f"session-id:{settings.SECRET_KEY}:{session_key}".encode()).hexdigest()[:24]


def user_sessions(*, user: User, current_key: str | None) -> list[dict]:
    from accounts.services import describe_user_agent

    rows = UserSession.objects.filter(user=user, expire_date__gt=timezone.now()).order_by("-last_activity")
    return [
        {
            "id": session_public_id(row.session_key),
            "browser": describe_user_agent(row.user_agent),
            "ip": row.ip,
            "created_at": row.created_at,
            "last_activity": row.last_activity,
            "current": row.session_key == current_key,
        }
        for row in rows
    ]


def session_key_for_public_id(*, user: User, public_id: str) -> str | None:
    for key in UserSession.objects.filter(user=user).values_list("session_key", flat=True):
        if session_public_id(key) == public_id:
            return key
    return None


def known_devices(*, user: User, current_hash: str | None) -> list[dict]:
    from accounts.services import describe_user_agent

    return [
        {
            "pk": device.pk,
            "browser": describe_user_agent(device.user_agent),
            "ip": device.ip,
            "first_seen": device.first_seen,
            "last_seen": device.last_seen,
            "current": device.device_hash == current_hash,
        }
        for device in KnownDevice.objects.filter(user=user)
    ]


def can_manage_security(user: User) -> bool:
    membership: Membership | None = getattr(user, "membership", None)
    return membership is not None and membership.has_permission("manage_security")


def audit_events(*, user: User, action: str = "", since=None, until=None) -> QuerySet[AuditEvent]:
    """The owner (and managers of security) see the account's events; a sub-user its own."""
    membership = getattr(user, "membership", None)
    if membership is not None and membership.has_permission("manage_security"):
        events = AuditEvent.objects.filter(account=membership.account)
    else:
        events = AuditEvent.objects.filter(actor=user)
    if action:
        events = events.filter(action=action)
    if since:
        events = events.filter(created_at__date__gte=since)
    if until:
        events = events.filter(created_at__date__lte=until)
    return events.select_related("actor").order_by("-created_at", "-id")


def audit_actions(*, user: User) -> list[str]:
    return sorted(set(audit_events(user=user).values_list("action", flat=True).distinct()))


def ip_allowlist_text(*, account_id: int, scope: str) -> str:
    lines = []
    for entry in IPAllowlistEntry.objects.filter(account_id=account_id, scope=scope):
        lines.append(f"{entry.network} {entry.note}".strip())
    return "\n".join(lines)


# --- Sub-users --------------------------------------------------------------------------------

PERMISSION_LABELS = {
    "send_sms": ("Send SMS", "Send"),
    "view_messages": ("View messages", "Messages"),
    "view_contacts": ("View contacts", "Contacts"),
    "manage_contacts": ("Manage contacts", "Edit contacts"),
    "manage_api_tokens": ("Manage API keys", "API keys"),
    "manage_users": ("Manage users", "Users"),
    "manage_security": ("Manage security (IP lists, webhooks, policies)", "Security"),
    "view_billing": ("View billing and balance", "Billing"),
}


def can_manage_users(user: User) -> bool:
    """The owner, and sub-users given `manage_users`."""
    membership: Membership | None = getattr(user, "membership", None)
    return membership is not None and user.is_active and membership.has_permission("manage_users")


def member_list(*, account_id: int) -> QuerySet[Membership]:
    """The account's members, the owner first, then by e-mail; with whether each uses 2FA."""
    from django.db.models import Case, Exists, IntegerField, OuterRef, Value, When
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import SMSDevice

    return (
        Membership.objects.filter(account_id=account_id)
        .select_related("user")
        .prefetch_related("allowed_senders")
        .annotate(
            has_2fa=Exists(SMSDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True))
            | Exists(TOTPDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)),
            owner_first=Case(
                When(role=Membership.Role.OWNER, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
        )
        .order_by("owner_first", "user__email")
    )


def member_get(*, account_id: int, membership_id: int) -> Membership | None:
    """A member of this account; another account's is simply not found."""
    return Membership.objects.select_related("user", "account").filter(account_id=account_id, pk=membership_id).first()


def member_rows(*, memberships, now) -> list[dict]:
    """What the users page shows of each member."""
    from accounts.services_users import member_state

    rows = []
    for membership in memberships:
        permissions = membership.permissions()
        rows.append(
            {
                "membership": membership,
                "user": membership.user,
                "state": member_state(membership.user),
                "badges": [
                    (name, PERMISSION_LABELS[name][1]) for name in Membership.PERMISSIONS if name in permissions
                ],
                "spent": membership.spent_in_month_of(now),
                "limit": None if membership.is_owner else membership.monthly_limit,
                "has_2fa": getattr(membership, "has_2fa", False),
            }
        )
    return rows


def approved_senders(*, account_id: int) -> list[tuple[int, str]]:
    from messaging.models import SenderName

    return list(
        SenderName.objects.filter(account_id=account_id, status=SenderName.Status.APPROVED)
        .order_by("name")
        .values_list("pk", "name")
    )
