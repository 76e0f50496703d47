"""django-axes configuration: who counts as the same user, and the per-user cap."""

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone


def username_from_credentials(request, credentials) -> str:
    """The e-mail as the sign-in form normalises it, so case tricks do not reset the count."""
    raw = ""
    if credentials:
        raw = credentials.get("username") or credentials.get("email") or ""
    elif request is not None and hasattr(request, "POST"):
        raw = request.POST.get("username", "")
    return raw.strip().lower()


class AccountLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler plus a cap per user across all addresses.

    5 failures from one (user, IP) lock that pair; AXES_USER_FAILURE_CAP failures from any
    addresses lock the user everywhere, so spreading guesses over many IPs does not help.
    """

    def get_failures(self, request, credentials=None) -> int:
        failures = super().get_failures(request, credentials)
        username = username_from_credentials(request, credentials)
        if not username:
            return failures
        since = timezone.now() - settings.AXES_COOLOFF_TIME
        total = (
            AccessAttempt.objects.filter(username=username, attempt_time__gte=since).aggregate(
                total=Sum("failures_since_start")
            )["total"]
            or 0
        )
        if total >= settings.AXES_USER_FAILURE_CAP:
            return max(failures, settings.AXES_FAILURE_LIMIT)
        return failures
