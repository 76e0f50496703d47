"""The filters of GET /messages (SPEC §5)."""

import django_filters

from core.filters import ApiFilterSet, ZonedDateTimeFilter
from messaging.models import Message


class MessageFilter(ApiFilterSet):
    status = django_filters.ChoiceFilter(
        choices=Message.Status.choices, error_messages={"invalid_choice": "Unknown status."}
    )
    # The exact number; surrounding spaces ignored. A null character is a 400 (PostgreSQL text
    # cannot hold it), not a 500.
    to = django_filters.CharFilter(method="filter_to", strip=False)
    batch_id = django_filters.UUIDFilter(error_messages={"invalid": "Not a UUID."})
    created_after = ZonedDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = ZonedDateTimeFilter(field_name="created_at", lookup_expr="lt")

    def filter_to(self, queryset, name, value):
        return queryset.filter(recipient=value.strip())
