"""The API's list filters: django-filter FilterSets, with the few kinds of filter the API needs
beyond django-filter's own. A parameter that cannot be read is a 400 problem naming it (every
such parameter at once), never a list filtered by the others alone, nor a 500."""

import django_filters
from django import forms
from rest_framework.exceptions import ValidationError

from core.api import zoned_time
from core.ids import valid_id
from core.text import UNSTORABLE


class ZonedDateTimeField(forms.Field):
    default_error_messages = {"invalid": "An ISO 8601 time with zone, e.g. 2026-01-31T00:00:00Z."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return zoned_time(value)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class ZonedDateTimeFilter(django_filters.Filter):
    """A time with its zone, compared in UTC (a time without a zone is refused: the server's own
    zone means nothing to a client)."""

    field_class = ZonedDateTimeField


class IdField(forms.Field):
    """A row id: an integer in the positive bigint range (anything else finds no row, so it is
    the caller's mistake, not an empty list)."""

    default_error_messages = {"invalid": "An id."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            value = int(value)
        except ValueError:
            value = 0
        if not valid_id(value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return value


class IdFilter(django_filters.Filter):
    field_class = IdField


class TextField(forms.Field):
    """Text as given (not stripped), at most `max_length` characters and nothing a text column
    cannot hold: one message for either."""

    default_error_messages = {"invalid": "At most %(max_length)s characters, no null characters."}

    def __init__(self, *, max_length: int, **kwargs):
        self.max_length = max_length
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if value and (len(value) > self.max_length or UNSTORABLE.search(value)):
            raise forms.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"max_length": self.max_length}
            )


class TextFilter(django_filters.Filter):
    field_class = TextField


class ApiFilterSet(django_filters.FilterSet):
    @classmethod
    def filtered(cls, params, queryset):
        """`queryset` filtered by the request's query parameters, or a 400 naming those that
        cannot be read."""
        filters = cls(params, queryset=queryset)
        if not filters.is_valid():
            raise ValidationError({name: list(messages) for name, messages in filters.errors.items()})
        return filters.qs
