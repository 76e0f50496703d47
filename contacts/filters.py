"""The filters of GET /contacts (SPEC §5); the rules themselves are the selectors'."""

from contacts import selectors
from core.filters import ApiFilterSet, IdFilter, TextFilter


class ContactFilter(ApiFilterSet):
    search = TextFilter(method="filter_search", max_length=100)
    group = IdFilter(method="filter_group", error_messages={"invalid": "A group id."})

    def filter_search(self, queryset, name, value):
        return selectors.contacts_matching(queryset, value)

    def filter_group(self, queryset, name, value):
        return selectors.contacts_in_group(queryset, value)


class OptOutFilter(ApiFilterSet):
    search = TextFilter(method="filter_search", max_length=100)

    def filter_search(self, queryset, name, value):
        return selectors.opt_outs_matching(queryset, value)
