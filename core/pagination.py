"""The API's one paginator: newest (or first) first, `limit` items a page, and an opaque
`next_cursor` that continues after the last item shown (keyset pagination).

Not DRF's CursorPagination, which cannot keep the API's contract: it positions a cursor on the
first ordering field only and skips the items that share that value by OFFSET, capped at its
`offset_cutoff` (1,000), while every message of one send shares its `created_at` (up to 10,000
of them: past the cap its pages repeat). It also answers `next`/`previous` URLs instead of
`next_cursor`, a forged cursor with a 404 instead of a 400, and an invalid `limit` with the
default size. Here the cursor holds every ordering field's value of the last item shown (for
messages `[created_at, id]`, for groups `[name, id]`, for contacts `[id]`), so a page is one
indexed range query however many items tie, and a cursor that is not one of ours (forged,
truncated, a lone surrogate, a date that cannot be) is a 400 problem naming `cursor`.
"""

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Paginator
from django.db import models
from django.db.models.fields import AutoFieldMixin
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from core.api import zoned_time
from core.ids import valid_id
from core.text import UNSTORABLE

_UUID = serializers.UUIDField()


def _id(value) -> int:
    if not valid_id(value):
        raise ValueError
    return value


def _text(value) -> str:
    if type(value) is not str or UNSTORABLE.search(value):  # PostgreSQL text cannot hold them
        raise ValueError
    return value


def _uuid(value) -> uuid.UUID:
    return _UUID.to_internal_value(value)


def _codec(field: models.Field):
    """How a field's value is written in a cursor (JSON) and read back, checked."""
    if isinstance(field, models.DateTimeField):
        return datetime.isoformat, zoned_time
    if isinstance(field, models.UUIDField):
        return str, _uuid
    if isinstance(field, AutoFieldMixin):
        return int, _id
    if isinstance(field, (models.CharField, models.TextField)):
        return str, _text
    raise TypeError(f"No cursor format for {type(field).__name__} ({field.name}).")


@dataclass(frozen=True)
class _Key:
    name: str
    descending: bool
    encode: object
    decode: object


class KeysetPagination(BasePagination):
    """Subclass it with the list's `ordering`: one or two fields, the last of them unique
    (`("-created_at", "-id")`). The view filters, then `paginate_queryset`, then renders the page
    and answers `get_paginated_response(data)`: `{"results": [...], "next_cursor": str | None}`."""

    ordering: tuple[str, ...] = ()
    default_limit = 100
    max_limit = 500
    limit_query_param = "limit"
    cursor_query_param = "cursor"

    next_cursor: str | None = None

    @classmethod
    def parameters(cls) -> list[OpenApiParameter]:
        """The query parameters, for the operation's `extend_schema(parameters=...)`."""
        return [
            OpenApiParameter(
                cls.limit_query_param,
                OpenApiTypes.INT,
                description=f"1 to {cls.max_limit}, default {cls.default_limit}",
            ),
            OpenApiParameter(
                cls.cursor_query_param, OpenApiTypes.STR, description="`next_cursor` of the previous page"
            ),
        ]

    def get_limit(self, params) -> int:
        """Out-of-range limits are brought into range; only a limit that is not a number is refused."""
        try:
            return min(max(int(params.get(self.limit_query_param, self.default_limit)), 1), self.max_limit)
        except ValueError:
            raise ValidationError({self.limit_query_param: [f"A number from 1 to {self.max_limit}."]}) from None

    def paginate_queryset(self, queryset, request, view=None) -> list:
        params = request.query_params
        limit = self.get_limit(params)
        keys = self._keys(queryset.model)
        queryset = queryset.order_by(*self.ordering)
        cursor = params.get(self.cursor_query_param)
        if cursor:
            queryset = self._after(queryset, keys, self.decode_cursor(cursor, keys))
        rows = list(queryset[: limit + 1])
        self.next_cursor = self.encode_cursor(rows[limit - 1], keys) if len(rows) > limit else None
        return rows[:limit]

    def get_paginated_response(self, data) -> Response:
        return Response({"results": data, "next_cursor": self.next_cursor})

    def _keys(self, model) -> list[_Key]:
        assert 1 <= len(self.ordering) <= 2, "one or two ordering fields, the last unique"
        keys = []
        for item in self.ordering:
            name = item.lstrip("-")
            field = model._meta.pk if name == "pk" else model._meta.get_field(name)
            encode, decode = _codec(field)
            keys.append(_Key(name, item.startswith("-"), encode, decode))
        return keys

    @staticmethod
    def _after(queryset, keys: list[_Key], values: list):
        """The items after the cursor's. With two keys, in the shape of the first key's range
        (an index condition) less the ties not yet passed."""
        first, value = keys[0], values[0]
        if len(keys) == 1:
            return queryset.filter(**{f"{first.name}__{'lt' if first.descending else 'gt'}": value})
        second = keys[1]
        return queryset.filter(**{f"{first.name}__{'lte' if first.descending else 'gte'}": value}).exclude(
            **{first.name: value, f"{second.name}__{'gte' if second.descending else 'lte'}": values[1]}
        )

    @staticmethod
    def encode_cursor(item, keys: list[_Key]) -> str:
        values = [key.encode(getattr(item, key.name)) for key in keys]
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")

    def decode_cursor(self, value: str, keys: list[_Key]) -> list:
        try:
            values = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            if type(values) is not list or len(values) != len(keys):
                raise ValueError
            return [key.decode(each) for key, each in zip(keys, values, strict=True)]
        except (ValueError, TypeError, OverflowError, RecursionError, ValidationError):
            raise ValidationError({self.cursor_query_param: ["Not a cursor from this API."]}) from None


def page_of(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The serializer of a page of `item`s, for the OpenAPI document (`MessagePage`, …)."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "__module__": item.__module__,
            "results": item(many=True),
            "next_cursor": serializers.CharField(allow_null=True),
        },
    )


def portal_page(request, items, per_page: int = 50):
    """A portal list's page of `items` (the `page` query parameter; out of range: the last) and
    the request's other query parameters, for the page links (templates/_pagination.html)."""
    page = Paginator(items, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()
