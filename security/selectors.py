"""Reads for the security page, scoped to the signed-in user or its account."""

import hashlib

from django.conf import settings
from django.utils import timezone

from accounts.models import Membership, User
from audit import selectors as audit_selectors
from security.models import IPAllowlistEntry, KnownDevice, UserSession


def session_public_id(session_key: str) -> str:
    """A stable, non-secret handle for a session in pages and forms (the key itself is a secret)."""
    return hashlib.sha256(f"session-id:{settings.SECRET_KEY}:{session_key}".encode()).hexdigest()[:24]


def user_sessions(*, user: User, current_key: str | None) -> list[dict]:
    from security.services import describe_user_agent

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
    from security.services import describe_user_agent

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


def ip_allowlist_text(*, account_id: int, scope: str) -> str:
    lines = []
    for entry in IPAllowlistEntry.objects.filter(account_id=account_id, scope=scope):
        lines.append(f"{entry.network} {entry.note}".strip())
    return "\n".join(lines)


def _audit_scope(user: User) -> dict:
    """The owner (and managers of security) see the account's events; a sub-user its own."""
    membership = getattr(user, "membership", None)
    if membership is not None and membership.has_permission("manage_security"):
        return {"account_id": membership.account_id}
    return {"actor_id": user.pk}


def audit_events(*, user: User, action: str = "", since=None, until=None):
    return audit_selectors.audit_events(**_audit_scope(user), action=action, since=since, until=until)


def audit_actions(*, user: User) -> list[str]:
    return audit_selectors.audit_actions(**_audit_scope(user))


def sms_phone(user: User) -> str | None:
    """The phone of the user's confirmed SMS device: where sign-in codes go."""
    from security.models import SMSDevice

    return SMSDevice.objects.filter(user=user, confirmed=True).values_list("phone", flat=True).first()
