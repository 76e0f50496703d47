"""Reads for the Users pages, scoped to the account."""

from django.db.models import QuerySet

from accounts.models import Membership, User

PERMISSION_LABELS = {
    "send_sms": ("Send SMS", "Send"),
    "view_messages": ("View messages", "Messages"),
    "view_contacts": ("View contacts", "Contacts"),
    "manage_contacts": ("Manage contacts", "Edit contacts"),
    "manage_api_tokens": ("Manage API keys", "API keys"),
    "manage_users": ("Manage users", "Users"),
    "manage_security": ("Manage security (IP lists, policies, webhooks, the verification SMS)", "Security"),
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

    from security.models import SMSDevice

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
    from members.services import member_state

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
