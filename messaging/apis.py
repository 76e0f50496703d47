"""The messaging API (SPEC §5): thin views over the sending service and selectors."""

from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.fields import empty
from rest_framework.response import Response

from apikeys.api import ApiView, operation, problems
from core.api import json_body, json_response
from core.errors import not_found
from core.pagination import KeysetPagination, page_of
from core.serializers import PointsField, RefuseUnknownFields, Representation, UtcDateTimeField
from core.text import UNSTORABLE
from messaging.filters import MessageFilter
from messaging.models import Message
from messaging.selectors import balance_now, messages_by_id, visible_messages
from messaging.services import message_cancel, message_submit


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "example": "+447400123456"},
            {"type": "array", "items": {"type": "string"}, "maxItems": 10000},
        ]
    }
)
class RecipientsField(serializers.Field):
    """A number or a list of numbers."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            return [data]
        if isinstance(data, list) and all(isinstance(item, str) for item in data):
            return data
        raise ValidationError("Give a phone number or a list of phone numbers (E.164).")

    def to_representation(self, value):
        return value


class SendRequest(RefuseUnknownFields, serializers.Serializer):
    to = RecipientsField(required=False, help_text="E.164 number or a list of up to 10,000.")
    to_groups = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
        max_length=1000,
        help_text="Ids of contact groups: their contacts' numbers join `to` (each number once).",
    )
    text = serializers.CharField(trim_whitespace=False, max_length=10_000)
    sender = serializers.CharField(required=False, allow_blank=True, max_length=16)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")

    def validate(self, data):
        if not data.get("to") and not data.get("to_groups"):
            raise ValidationError({"to": ["Give at least one recipient."]})
        return data


# --- The request's fast path, generated from SendRequest ------------------------------------------
#
# DRF deep-copies every declared field of each serializer it makes: a tenth of a send's time. The
# plainly valid request (numbers, a text, perhaps a sender and a reference, nothing else to read)
# is read with SendRequest's own field settings instead; anything else goes to SendRequest, which
# validates it and words the errors (tests/messaging/test_send_request.py: for any input the fast
# path answers None or exactly what SendRequest validates to).

_SEND_FIELDS = SendRequest._declared_fields
_PLAIN_STRINGS = {name: field for name, field in _SEND_FIELDS.items() if type(field) is serializers.CharField}
_DEFAULTS = {name: field.default for name, field in _SEND_FIELDS.items() if field.default is not empty}
_SERIALIZER_ONLY = frozenset(_SEND_FIELDS) - _PLAIN_STRINGS.keys() - {"to"}  # to_groups, scheduled_at
_FAST_FIELDS = frozenset(_SEND_FIELDS) - _SERIALIZER_ONLY  # any other key: the serializer answers


def _plain_string(value, field: serializers.CharField) -> str | None:
    """What `field` makes of `value` when it is plainly valid; None when the serializer must say."""
    if type(value) is not str or UNSTORABLE.search(value):
        return None
    if field.trim_whitespace:
        value = value.strip()
    if (not value and not field.allow_blank) or (field.max_length is not None and len(value) > field.max_length):
        return None
    return value


def send_request_fast(data) -> dict | None:
    """SendRequest's `validated_data` for a plainly valid request, without making a serializer;
    None means "not plainly valid": SendRequest then validates and words the errors."""
    if type(data) is not dict or not data.keys() <= _FAST_FIELDS:
        return None
    to = data.get("to")  # RecipientsField, and SendRequest.validate's "at least one recipient"
    if type(to) is str and to:
        to = [to]
    elif not (type(to) is list and to and all(type(number) is str for number in to)):
        return None
    values = {"to": to, **{name: default() if callable(default) else default for name, default in _DEFAULTS.items()}}
    for name, field in _PLAIN_STRINGS.items():
        if name in data:
            value = _plain_string(data[name], field)
            if value is None:
                return None
            values[name] = value
        elif field.required:
            return None
    return values


# --- Answers: one serializer per resource, for the document and the bytes (core.serializers) ------


class MessageOut(serializers.Serializer):
    id = serializers.UUIDField()
    to = serializers.CharField(source="recipient")
    sender = serializers.CharField()
    text = serializers.CharField()
    status = serializers.ChoiceField(choices=Message.Status.choices)
    error_code = serializers.CharField(allow_blank=True)
    segments = serializers.IntegerField()
    encoding = serializers.CharField()
    cost = PointsField()
    batch_id = serializers.UUIDField(allow_null=True)
    reference = serializers.CharField(allow_blank=True)
    scheduled_at = UtcDateTimeField(allow_null=True)
    created_at = UtcDateTimeField()
    sent_at = UtcDateTimeField(allow_null=True)
    delivered_at = UtcDateTimeField(allow_null=True)
    test = serializers.BooleanField(source="is_test")


class SentMessageOut(serializers.Serializer):
    id = serializers.UUIDField()
    to = serializers.CharField(source="recipient")
    status = serializers.CharField()
    segments = serializers.IntegerField()
    encoding = serializers.CharField()
    cost = PointsField()


class SendResponse(serializers.Serializer):
    batch_id = serializers.UUIDField()
    messages = SentMessageOut(many=True)
    total_cost = PointsField()
    balance = PointsField()
    test = serializers.BooleanField()


MessagePage = page_of(MessageOut, "MessagePage")


class BalanceOut(serializers.Serializer):
    balance = PointsField()
    monthly_limit = PointsField(allow_null=True)
    monthly_spent = PointsField()


message_json = Representation(MessageOut)
balance_json = Representation(BalanceOut)
_send_json = Representation(SendResponse)


def representations(account_id: int, ids) -> dict[str, dict]:
    """The account's messages among `ids`, each exactly as `GET /messages/{id}` answers it, in one
    query: what a webhook's `data` is (webhooks render it when they send)."""
    return {str(message.pk): message_json(message) for message in messages_by_id(account_id=account_id, ids=ids)}


class Sent(NamedTuple):
    """A send's result as SendResponse reads it."""

    batch_id: UUID
    messages: list[Message]
    total_cost: Decimal
    balance: Decimal
    test: bool


def send_json(result, is_test: bool) -> dict:
    return _send_json(Sent(result.batch_id, result.messages, result.total_cost, result.balance, is_test))


class MessagePagination(KeysetPagination):
    ordering = ("-created_at", "-id")


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat a request safely: the same key from the same caller within 24 h returns the first answer.",
)


def require_group_scope(scopes, parameter: str) -> None:
    """Sending to contact groups needs `contacts:read` too: the answer names every number sent
    to, and a group's numbers are contacts to read."""
    if "contacts:read" not in scopes:
        raise PermissionDenied(
            f"Sending to `{parameter}` needs the `contacts:read` scope too.", code="insufficient_scope"
        )


class MessagesApi(ApiView):
    required_scopes = {"POST": "messages:send", "GET": "messages:read"}

    @operation(
        "messages_send",
        "Send messages",
        responses={202: SendResponse, **problems(400, 402, 409, 413, 415)},
        tag="messages",
        request=SendRequest,
        description="Accepts the whole request or none of it. Duplicated numbers are sent once, also when "
        "they come from `to` and from contact groups (`to_groups`, which needs the `contacts:read` scope too). "
        "Requires the `messages:send` scope.",
        parameters=[IDEMPOTENCY_HEADER],
        examples=[
            OpenApiExample("One recipient", value={"to": "+447400123456", "text": "Your code is 1234"}),
            OpenApiExample(
                "To contact groups and a number",
                value={"to": "+447400123456", "to_groups": [3, 7], "text": "Doors open at 9"},
            ),
            OpenApiExample(
                "Several, scheduled",
                value={
                    "to": ["+447400123456", "+48500100200"],
                    "text": "Sale starts now!",
                    "sender": "ACME",
                    "scheduled_at": "2026-12-01T09:00:00Z",
                    "reference": "campaign-42",
                },
            ),
        ],
    )
    def post(self, request):
        body = json_body(request)
        values = send_request_fast(body) if settings.API_FAST_PATHS else None
        if values is None:
            data = SendRequest(data=body)
            data.is_valid(raise_exception=True)
            values = data.validated_data
        auth = request.auth
        if values.get("to_groups"):
            require_group_scope(auth.scopes, "to_groups")
        key = request.META.get("HTTP_IDEMPOTENCY_KEY") or None
        if key is not None and not (1 <= len(key) <= 255):
            raise ValidationError({"Idempotency-Key": ["Between 1 and 255 characters."]})
        result = message_submit(
            account_id=auth.account.pk,
            user=auth.user,
            caller=auth.caller,
            to=values.get("to") or [],
            to_groups=values.get("to_groups") or None,
            text=values["text"],
            sender=values.get("sender") or None,
            scheduled_at=values.get("scheduled_at"),
            reference=values.get("reference") or "",
            idempotency_key=key,
            test_mode=auth.is_test,
            account=auth.account,
            response_builder=lambda result: send_json(result, auth.is_test),
        )
        answer = result.stored_response if result.replayed else send_json(result, auth.is_test)
        return json_response(request, answer, status=status.HTTP_202_ACCEPTED)

    @operation(
        "messages_list",
        "List messages",
        responses={200: MessagePage, **problems(400)},
        tag="messages",
        description="Newest first, cursor-paginated. Requires the `messages:read` scope.",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=[s for s, _ in Message.Status.choices]),
            OpenApiParameter("to", OpenApiTypes.STR, description="E.164 recipient"),
            OpenApiParameter("batch_id", OpenApiTypes.UUID),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
            *MessagePagination.parameters(),
        ],
    )
    def get(self, request):
        auth = request.auth
        messages = MessageFilter.filtered(request.query_params, visible_messages(user=auth.user, is_test=auth.is_test))
        paginator = MessagePagination()
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response(message_json.many(page))


class MessageApi(ApiView):
    required_scopes = {"GET": "messages:read", "DELETE": "messages:send"}

    @operation("messages_get", "Get a message", responses={200: MessageOut, **problems(404)}, tag="messages")
    def get(self, request, message_id):
        auth = request.auth
        message = visible_messages(user=auth.user, is_test=auth.is_test).filter(pk=message_id).first()
        if message is None:
            raise not_found("message")
        return Response(message_json(message))

    @operation(
        "messages_cancel",
        "Cancel a scheduled message",
        responses={200: MessageOut, **problems(404, 409)},
        tag="messages",
        description="Only `scheduled` (or `held`) messages; the cost is refunded. Requires `messages:send`.",
    )
    def delete(self, request, message_id):
        auth = request.auth
        if not visible_messages(user=auth.user, is_test=auth.is_test).filter(pk=message_id).exists():
            raise not_found("message")
        message = message_cancel(account_id=auth.account.pk, message_id=message_id, actor=auth.user)
        return Response(message_json(message))


class BalanceApi(ApiView):
    required_scopes = {"GET": "balance:read"}

    @operation("balance_get", "Balance and limits", responses={200: BalanceOut, **problems()}, tag="account")
    def get(self, request):
        # Read now, not from the request chain's copy of the key's rows (up to a second old): a
        # client that reads its balance right after a send must see that send.
        auth = request.auth
        now = balance_now(account_id=auth.account.pk, membership_id=auth.user.membership.pk, now=timezone.now())
        if now is None:  # removed from the account within the last second
            raise PermissionDenied("The user who created this key is no longer a member.", code="user_inactive")
        return Response(balance_json(now))
