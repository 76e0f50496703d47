"""Read helpers every app's selectors share."""

from datetime import date

from django.db.models import QuerySet


def created_within(
    queryset: QuerySet, *, since: date | None, until: date | None, field: str = "created_at"
) -> QuerySet:
    """The rows created (by `field`) from the day `since` through the day `until`, both included
    (days of the current time zone, as Django's `__date` reads them); either bound may be None."""
    if since:
        queryset = queryset.filter(**{f"{field}__date__gte": since})
    if until:
        queryset = queryset.filter(**{f"{field}__date__lte": until})
    return queryset
