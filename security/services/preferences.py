"""A user's own display preferences: their own to change (no re-authentication), audited."""

from accounts.models import User
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core.errors import ApplicationError
from core.timezones import zone_exists


def user_time_zone_set(*, user: User, time_zone: str, context: AuditContext = NO_CONTEXT) -> None:
    """The zone the portal shows this user's times in (an IANA name; exports stay UTC)."""
    time_zone = time_zone.strip()
    if not zone_exists(time_zone):
        raise ApplicationError(
            "Not a known time zone.",
            code="invalid_request",
            errors={"time_zone": ["Choose a time zone from the list."]},
        )
    before = user.time_zone
    if before == time_zone:
        return
    User.objects.filter(pk=user.pk).update(time_zone=time_zone)
    user.time_zone = time_zone
    audit_record(
        action="security.time_zone_changed", actor=user, context=context, data={"before": before, "after": time_zone}
    )
