"""A sub-user's sending window in words, and a moment in a person's time zone: what the send page
says before a send (the window, and when a message sent now would leave) and after it (the
message was scheduled for the window's opening). The rule itself is
messaging.services.submit.sending_window_opening."""

from datetime import datetime

from accounts.models import Membership
from core.timezones import zone

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def has_window(membership: Membership | None) -> bool:
    """Whether a sending window applies to this member (never to the owner)."""
    if membership is None or membership.is_owner:
        return False
    return bool(membership.window_weekdays) or membership.window_start is not None or membership.window_end is not None


def _days(weekdays: list[int]) -> str:
    days = sorted({int(day) for day in weekdays or [] if 1 <= int(day) <= 7})
    if not days or len(days) == 7:
        return "every day"
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0] - 1]}-{DAY_NAMES[run[-1] - 1]}")
        else:
            parts.extend(DAY_NAMES[day - 1] for day in run)
    return ", ".join(parts)


def window_describe(membership: Membership) -> str:
    """The window in words, e.g. "Mon-Fri, 09:00-17:00 Europe/Warsaw"."""
    start = membership.window_start.strftime("%H:%M") if membership.window_start else "00:00"
    end = membership.window_end.strftime("%H:%M") if membership.window_end else "24:00"
    return f"{_days(membership.window_weekdays)}, {start}-{end} {membership.window_timezone or 'UTC'}"


def local_moment(moment: datetime, zone_name: str) -> str:
    """The moment in that zone, naming it, e.g. "Mon 7 Dec 2026 09:00 (Europe/Warsaw)"."""
    tz = zone(zone_name or "UTC")
    local = moment.astimezone(tz)
    return f"{DAY_NAMES[local.weekday()]} {local.day} {local:%b %Y %H:%M} ({tz.key})"
