"""The filters of GET /inbound (SPEC §5)."""

import django_filters

from core.filters import ApiFilterSet, ZonedDateTimeFilter


class InboundFilter(ApiFilterSet):
    # The exact numbers, surrounding spaces ignored; named `from` and `to` below.
    sender = django_filters.CharFilter(method="filter_exact", field_name="sender", strip=False)
    recipient = django_filters.CharFilter(method="filter_exact", field_name="recipient", strip=False)
    received_after = ZonedDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = ZonedDateTimeFilter(field_name="received_at", lookup_expr="lt")

    def filter_exact(self, queryset, name, value):
        return queryset.filter(**{name: value.strip()})


# The query parameters are `from` and `to`: a Python keyword cannot name a class attribute.
InboundFilter.base_filters = {
    {"sender": "from", "recipient": "to"}.get(name, name): value for name, value in InboundFilter.base_filters.items()
}
