"""Read helpers every app's selectors share."""

from datetime import date

from django.db.models import QuerySet


def created_within(queryset: QuerySet, *, since: date | None, until: date | None) -> QuerySet:
    """The rows created from the day `since` through the day `until`, both included (days of the
    current time zone, as Django's `__date` reads them); either bound may be None."""
    if since:
        queryset = queryset.filter(created_at__date__gte=since)
    if until:
        queryset = queryset.filter(created_at__date__lte=until)
    return queryset
