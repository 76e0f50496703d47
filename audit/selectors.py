"""Reads of the audit trail, always scoped: to an account, or to one actor."""

from django.db.models import QuerySet

from audit.models import AuditEvent
from core.selectors import created_within


def audit_events(
    *, account_id: int | None = None, actor_id: int | None = None, action: str = "", since=None, until=None
) -> QuerySet[AuditEvent]:
    """An account's events, or one actor's (one of the two is required: never every account's)."""
    if account_id is not None:
        events = AuditEvent.objects.filter(account_id=account_id)
    elif actor_id is not None:
        events = AuditEvent.objects.filter(actor_id=actor_id)
    else:
        raise ValueError("audit_events needs an account or an actor")
    if action:
        events = events.filter(action=action)
    return created_within(events, since=since, until=until).select_related("actor").order_by("-created_at", "-id")


def audit_actions(*, account_id: int | None = None, actor_id: int | None = None) -> list[str]:
    events = audit_events(account_id=account_id, actor_id=actor_id).order_by()
    return sorted(set(events.values_list("action", flat=True).distinct()))
