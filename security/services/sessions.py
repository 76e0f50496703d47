"""Browser sessions: inactivity timeouts, listing, revoking, ending them all."""

from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core.errors import ApplicationError, NotFound
from security.models import UserSession


def session_timeout_minutes(user: User) -> int:
    account = user.account
    if account is None:
        return user.session_timeout_minutes or 60
    chosen = user.session_timeout_minutes or account.session_timeout_minutes
    return min(chosen, account.session_timeout_max_minutes)


def session_timeout_choices(user: User) -> list[int]:
    account = user.account
    maximum = account.session_timeout_max_minutes if account is not None else max(settings.SESSION_TIMEOUT_CHOICES)
    return [m for m in settings.SESSION_TIMEOUT_CHOICES if m <= maximum]


@transaction.atomic
def session_timeout_set(*, user: User, minutes: int, context: AuditContext = NO_CONTEXT) -> None:
    if minutes not in session_timeout_choices(user):
        raise ApplicationError("Choose one of the offered timeouts.", code="invalid_timeout")
    User.objects.filter(pk=user.pk).update(session_timeout_minutes=minutes)
    user.session_timeout_minutes = minutes
    audit_record(action="security.session_timeout_changed", actor=user, context=context, data={"minutes": minutes})


def sessions_end(*, user: User, keep_session_key: str | None = None) -> int:
    """End the user's sessions (all, or all but one) at once: rows and cached copies, and every
    sign-in of the user still waiting for its code (those sessions belong to no user yet)."""
    from security.session_store import SessionStore

    # Kept longer than a waiting sign-in lives: every attempt that started before now sees it.
    cache.set(
        sessions_ended_key(user.pk),
        timezone.now().isoformat(),
        timeout=int(settings.SIGN_IN_PENDING_MAX_AGE.total_seconds()) + 60,
    )

    keys = list(UserSession.objects.filter(user=user).exclude(session_key=keep_session_key or "").values_list(
        "session_key", flat=True
    ))  # fmt: skip
    for key in keys:
        SessionStore(session_key=key).delete()
    return len(keys)


def session_revoke(*, user: User, session_key: str, context: AuditContext = NO_CONTEXT) -> None:
    from security.session_store import SessionStore

    session = UserSession.objects.filter(user=user, session_key=session_key).first()
    if session is None:
        raise NotFound("That session no longer exists.", code="not_found")
    SessionStore(session_key=session.session_key).delete()
    audit_record(action="security.session_revoked", actor=user, context=context, data={"ip": session.ip})


def sessions_end_others(*, user: User, current_session_key: str, context: AuditContext = NO_CONTEXT) -> int:
    count = sessions_end(user=user, keep_session_key=current_session_key)
    audit_record(action="security.sessions_ended", actor=user, context=context, data={"count": count})
    return count


def sessions_ended_key(user_id: int) -> str:
    return f"sessions-ended:{user_id}"


def sessions_ended_since(user: User, started: datetime) -> bool:
    ended = cache.get(sessions_ended_key(user.pk))
    return ended is not None and datetime.fromisoformat(ended) >= started
