"""The messaging API (SPEC §5): thin views over the sending service and selectors."""

import base64
import json
from datetime import UTC

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from apikeys.api import RATE_LIMIT_HEADERS, ApiView, problems
from core.api import iso_z, json_body, json_response
from core.text import UNSTORABLE
from messaging.models import Message
from messaging.selectors import balance_now
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


class SendRequest(serializers.Serializer):
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


def _plain_string(value, *, max_length: int, trim: bool, allow_blank: bool) -> str | None:
    if type(value) is not str or UNSTORABLE.search(value):
        return None
    if trim:
        value = value.strip()
    if (not value and not allow_blank) or len(value) > max_length:
        return None
    return value


def send_request_fast(data) -> dict | None:
    """SendRequest's `validated_data` for a plainly valid request, without making a serializer
    (DRF deep-copies every declared field of each serializer it makes: a tenth of a send's time).
    None means "not plainly valid": SendRequest then validates and words the errors. It accepts
    a subset of what SendRequest accepts and returns the same values (tests/apikeys/test_send_request.py)."""
    if type(data) is not dict or "to_groups" in data or "scheduled_at" in data:
        return None
    to = data.get("to")
    if type(to) is str and to:
        to = [to]
    elif not (type(to) is list and to and all(type(number) is str for number in to)):
        return None
    text = _plain_string(data.get("text"), max_length=10_000, trim=False, allow_blank=False)
    if text is None:
        return None
    values = {"to": to, "to_groups": [], "text": text, "reference": ""}
    for name, max_length in (("sender", 16), ("reference", 100)):
        if name in data:
            value = _plain_string(data[name], max_length=max_length, trim=True, allow_blank=True)
            if value is None:
                return None
            values[name] = value
    return values


class MessageOut(serializers.Serializer):
    id = serializers.UUIDField()
    to = serializers.CharField()
    sender = serializers.CharField()
    text = serializers.CharField()
    status = serializers.ChoiceField(choices=Message.Status.choices)
    error_code = serializers.CharField(allow_blank=True)
    segments = serializers.IntegerField()
    encoding = serializers.CharField()
    cost = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)
    batch_id = serializers.UUIDField(allow_null=True)
    reference = serializers.CharField(allow_blank=True)
    scheduled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    test = serializers.BooleanField()


class SentMessageOut(serializers.Serializer):
    id = serializers.UUIDField()
    to = serializers.CharField()
    status = serializers.CharField()
    segments = serializers.IntegerField()
    encoding = serializers.CharField()
    cost = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)


class SendResponse(serializers.Serializer):
    batch_id = serializers.UUIDField()
    messages = SentMessageOut(many=True)
    total_cost = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)
    balance = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)
    test = serializers.BooleanField()


class MessagePage(serializers.Serializer):
    results = MessageOut(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class BalanceOut(serializers.Serializer):
    balance = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)
    monthly_limit = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True, allow_null=True)
    monthly_spent = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)


def message_json(message: Message) -> dict:
    return {
        "id": str(message.id),
        "to": message.recipient,
        "sender": message.sender,
        "text": message.text,
        "status": message.status,
        "error_code": message.error_code,
        "segments": message.segments,
        "encoding": message.encoding,
        "cost": f"{message.cost:.4f}",
        "batch_id": str(message.batch_id) if message.batch_id else None,
        "reference": message.reference,
        "scheduled_at": iso_z(message.scheduled_at),
        "created_at": iso_z(message.created_at),
        "sent_at": iso_z(message.sent_at),
        "delivered_at": iso_z(message.delivered_at),
        "test": message.is_test,
    }


def send_json(result, is_test: bool) -> dict:
    return {
        "batch_id": str(result.batch_id),
        "messages": [
            {
                "id": str(m.id),
                "to": m.recipient,
                "status": m.status,
                "segments": m.segments,
                "encoding": m.encoding,
                "cost": f"{m.cost:.4f}",
            }
            for m in result.messages
        ],
        "total_cost": f"{result.total_cost:.4f}",
        "balance": f"{result.balance:.4f}",
        "test": is_test,
    }


def _scoped(request):
    """The caller's messages: its account, test or live to match its key (never mixed), and, when
    the key's user may not see the account's messages (`view_messages`), only the user's own, as
    in the portal."""
    auth = request.auth
    messages = Message.objects.filter(account_id=auth.account.pk, is_test=auth.is_test, is_system=False)
    membership = getattr(auth.user, "membership", None)
    if membership is None or not membership.has_permission("view_messages"):
        messages = messages.filter(submitted_by_id=auth.user.pk)
    return messages


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat a request safely: the same key from the same caller within 24 h returns the first answer.",
)


class MessagesApi(ApiView):
    required_scopes = {"POST": "messages:send", "GET": "messages:read"}

    @extend_schema(
        operation_id="messages_send",
        summary="Send messages",
        description="Accepts the whole request or none of it. Duplicated numbers are sent once, also when "
        "they come from `to` and from contact groups (`to_groups`, which needs the `contacts:read` scope too). "
        "Requires the `messages:send` scope.",
        request=SendRequest,
        parameters=[IDEMPOTENCY_HEADER, *RATE_LIMIT_HEADERS],
        responses={202: SendResponse, **problems(400, 402, 409, 413, 415)},
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
        tags=["messages"],
    )
    def post(self, request):
        body = json_body(request)
        values = send_request_fast(body)
        if values is None:
            data = SendRequest(data=body)
            data.is_valid(raise_exception=True)
            values = data.validated_data
        auth = request.auth
        if values.get("to_groups") and "contacts:read" not in auth.scopes:
            # The answer names every number sent to: a group's numbers are contacts to read.
            raise PermissionDenied(
                "Sending to `to_groups` needs the `contacts:read` scope too.", code="insufficient_scope"
            )
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

    @extend_schema(
        operation_id="messages_list",
        summary="List messages",
        description="Newest first, cursor-paginated. Requires the `messages:read` scope.",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=[s for s, _ in Message.Status.choices]),
            OpenApiParameter("to", OpenApiTypes.STR, description="E.164 recipient"),
            OpenApiParameter("batch_id", OpenApiTypes.UUID),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 500, default 100"),
            OpenApiParameter("cursor", OpenApiTypes.STR),
            *RATE_LIMIT_HEADERS,
        ],
        responses={200: MessagePage, **problems(400)},
        tags=["messages"],
    )
    def get(self, request):
        params = request.query_params
        messages = _scoped(request)
        if params.get("status"):
            if params["status"] not in Message.Status.values:
                raise ValidationError({"status": ["Unknown status."]})
            messages = messages.filter(status=params["status"])
        if params.get("to"):
            if "\x00" in params["to"]:  # PostgreSQL text cannot hold it: a 400, not a 500
                raise ValidationError({"to": ["Null characters are not allowed."]})
            messages = messages.filter(recipient=params["to"].strip())
        if params.get("batch_id"):
            try:
                messages = messages.filter(batch_id=serializers.UUIDField().to_internal_value(params["batch_id"]))
            except ValidationError:
                raise ValidationError({"batch_id": ["Not a UUID."]}) from None
        for name, lookup in (("created_after", "created_at__gte"), ("created_before", "created_at__lt")):
            if params.get(name):
                messages = messages.filter(**{lookup: _query_time(name, params[name])})
        try:
            limit = min(max(int(params.get("limit", 100)), 1), 500)
        except ValueError:
            raise ValidationError({"limit": ["A number from 1 to 500."]}) from None
        if params.get("cursor"):
            created, message_id = _decode_cursor(params["cursor"])
            messages = messages.filter(created_at__lte=created).exclude(created_at=created, id__gte=message_id)
        page = list(messages.order_by("-created_at", "-id")[: limit + 1])
        next_cursor = _encode_cursor(page[limit - 1]) if len(page) > limit else None
        return Response({"results": [message_json(m) for m in page[:limit]], "next_cursor": next_cursor})


def _encode_cursor(message: Message) -> str:
    raw = json.dumps([message.created_at.isoformat(), str(message.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _query_time(name: str, value: str):
    """A time filter in UTC. parse_datetime raises on well-formed but impossible dates (month
    13), and PostgreSQL refuses offsets beyond ±15:59 that Python accepts: both are the caller's
    mistake (400), never a 500."""
    try:
        moment = parse_datetime(value)
        if moment is None or moment.tzinfo is None:
            raise ValueError
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError({name: ["An ISO 8601 time with zone, e.g. 2026-01-31T00:00:00Z."]}) from None


def _decode_cursor(value: str):
    try:
        created, message_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        moment = parse_datetime(created)
        if moment is None or moment.tzinfo is None:
            raise ValueError
        return moment.astimezone(UTC), serializers.UUIDField().to_internal_value(message_id)
    except (ValueError, TypeError, OverflowError, RecursionError, ValidationError):
        raise ValidationError({"cursor": ["Not a cursor from this API."]}) from None


class MessageApi(ApiView):
    required_scopes = {"GET": "messages:read", "DELETE": "messages:send"}

    @extend_schema(
        operation_id="messages_get",
        summary="Get a message",
        parameters=RATE_LIMIT_HEADERS,
        responses={200: MessageOut, **problems(404)},
        tags=["messages"],
    )
    def get(self, request, message_id):
        message = _scoped(request).filter(pk=message_id).first()
        if message is None:
            raise NotFound("No message with this id.")
        return Response(message_json(message))

    @extend_schema(
        operation_id="messages_cancel",
        summary="Cancel a scheduled message",
        description="Only `scheduled` (or `held`) messages; the cost is refunded. Requires `messages:send`.",
        parameters=RATE_LIMIT_HEADERS,
        responses={200: MessageOut, **problems(404, 409)},
        tags=["messages"],
    )
    def delete(self, request, message_id):
        if not _scoped(request).filter(pk=message_id).exists():
            raise NotFound("No message with this id.")
        message = message_cancel(account_id=request.auth.account.pk, message_id=message_id, actor=request.auth.user)
        return Response(message_json(message))


class BalanceApi(ApiView):
    required_scopes = {"GET": "balance:read"}

    @extend_schema(
        operation_id="balance_get",
        summary="Balance and limits",
        parameters=RATE_LIMIT_HEADERS,
        responses={200: BalanceOut, **problems()},
        tags=["account"],
    )
    def get(self, request):
        # Read now, not from the request chain's copy of the key's rows (up to a second old): a
        # client that reads its balance right after a send must see that send.
        auth = request.auth
        now = balance_now(account_id=auth.account.pk, membership_id=auth.user.membership.pk, now=timezone.now())
        if now is None:  # removed from the account within the last second
            raise PermissionDenied("The user who created this key is no longer a member.", code="user_inactive")
        return Response(
            {
                "balance": f"{now.balance:.4f}",
                "monthly_limit": f"{now.monthly_limit:.4f}" if now.monthly_limit is not None else None,
                "monthly_spent": f"{now.monthly_spent:.4f}",
            }
        )
