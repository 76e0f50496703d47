"""The time zones people choose from, and the one that pages show times in.

The choice offers the canonical `Area/City` zones of the IANA database (its `zone.tab`: one or
more per country, no aliases such as "W-SU", "Zulu" or "localtime"), grouped by region, with UTC
first. A stored zone that is valid but not offered (an alias kept from before, `Etc/GMT+2`) stays
valid and is offered to whoever has it.
"""

import functools
import zoneinfo
from pathlib import Path

from django.utils import timezone

REGIONS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@functools.cache
def _available() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def zone_exists(name: str) -> bool:
    """A zone Python can load: what a stored value must be."""
    return name in _available()


def _zone_tab() -> list[str]:
    """The zones of the first `zone.tab` on the time-zone path (third column)."""
    for root in zoneinfo.TZPATH:
        path = Path(root) / "zone.tab"
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            return [line.split("\t")[2] for line in lines if line and not line.startswith("#")]
    return []


@functools.cache
def canonical_zones() -> tuple[str, ...]:
    """The canonical Area/City zones, sorted; without a zone.tab, the Area/City names Python knows."""
    names = _zone_tab() or [name for name in _available() if "/" in name]
    return tuple(sorted(name for name in set(names) if name.split("/")[0] in REGIONS and zone_exists(name)))


def _city(name: str) -> str:
    """ "America/Argentina/Buenos_Aires" → "Argentina / Buenos Aires" (the region is the group)."""
    return name.split("/", 1)[1].replace("_", " ").replace("/", " / ")


def zone_choices(current: str | None = None) -> list:
    """Choices for a form's select: UTC, then one group (an <optgroup>) per region; `current`, when
    it is a valid zone outside the list, in a group of its own."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in canonical_zones():
        groups.setdefault(name.split("/")[0], []).append((name, _city(name)))
    choices: list = [("UTC", "UTC")]
    if current and current != "UTC" and current not in canonical_zones() and zone_exists(current):
        choices.append(("Current", [(current, current)]))
    return choices + list(groups.items())


@functools.cache
def zone(name: str):
    """The zone of that name; UTC for a name that is not one."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


class UserTimeZoneMiddleware:
    """Pages show times in the signed-in user's zone (`User.time_zone`), UTC for anyone else:
    Django's template filters, forms and `__date` lookups read the active zone. Runs after
    authentication. The zone is active while the request is answered (a streamed CSV's rows
    included, read after the view returns) and never after: the next request on this thread may be
    another user's, or the API's, which reads times in UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        name = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        if not name or name == "UTC":
            return self.get_response(request)
        timezone.activate(zone(name))
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        if response.streaming:
            response.streaming_content = _in_zone(response.streaming_content, zone(name))
        return response


def _in_zone(chunks, tz):
    timezone.activate(tz)
    try:
        yield from chunks
    finally:
        timezone.deactivate()
