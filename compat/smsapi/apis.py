"""The SMSAPI dialect (shared/COMPAT.md §B, docs/compatibility.md): `sms.do`, `user.do` and
`profile` as SMSAPI's client libraries call them, mapped onto the API's request chain (ApiView:
the same keys, scopes, allowlist and rate limits), the sending service and the selectors.

This module maps requests in and answers out; ERRORS is the one table that turns the API's
problem documents into SMSAPI's errors. SMSAPI answers a refusal with HTTP 200 and
`{"error": <int>, "message": ...}` (the only path on which its clients read a code and a
message); rate limits (429) and an unavailable service (503) keep their status, so generic
retry logic works."""

import hashlib
import uuid
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.text import normalize_newlines
from rest_framework import exceptions
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apikeys.api import ApiView
from compat.negotiation import JsonAlways
from contacts.selectors import group_list
from core.api import zoned_time
from core.errors import ApplicationError, Forbidden, NotFound
from core.phone import parse_recipient
from core.renderers import ApiJSONParser, ApiJSONRenderer, ApiMultiPartParser
from core.text import UNSTORABLE
from messaging.apis import require_group_scope
from messaging.legacy import request_param
from messaging.models import Message
from messaging.pricing import PriceList
from messaging.segments import count_segments
from messaging.selectors import balance_now, visible_messages
from messaging.services import message_submit, messages_cancel
from messaging.services.submit import IDEMPOTENCY_TTL

# --- Errors: our problem → SMSAPI's -------------------------------------------------------------

# Our problem `code`, or `code:field` for a validation error on that field (the first field the
# problem names, in sorted order, that has a row), → (SMSAPI `error`, HTTP status). Anything else
# is error 8 ("invalid parameter") with HTTP 200.
ERRORS: dict[str, tuple[int, int]] = {
    "unauthenticated": (101, 200),
    "insufficient_scope": (101, 200),
    "user_inactive": (101, 200),
    "account_suspended": (101, 200),
    "forbidden": (101, 200),  # also user.do's management actions
    "ip_not_allowed": (105, 200),
    "invalid_recipients": (13, 200),
    "invalid_request:to": (13, 200),  # no recipient at all
    "invalid_request:text": (11, 200),
    "text_too_long": (11, 200),
    "unicode_not_allowed": (11, 200),  # `nounicode`
    "too_many_parts": (12, 200),  # `max_parts`
    "sender_not_allowed": (14, 200),
    "invalid_request:sender": (14, 200),
    "insufficient_credit": (103, 200),
    "monthly_limit_reached": (103, 200),
    "duplicate_idx": (53, 200),  # `check_idx`
    "idempotency_conflict": (53, 200),  # the same `check_idx` sent at the same time, with another text
    "invalid_request:date": (54, 200),
    "invalid_request:scheduled_at": (54, 200),
    "not_found": (301, 200),  # an id of `sch_del` or `status`
    "not_cancelable": (301, 200),
    "rate_limited": (203, 429),
    "traffic_cap_reached": (203, 429),
    "service_unavailable": (201, 503),
    "unknown_endpoint": (8, 404),
    "method_not_allowed": (8, 405),
}
OTHER_ERROR = (8, 200)

# `/profile` is SMSAPI's REST side: its errors keep the HTTP status, with a word for it.
PROFILE_ERRORS = {401: "authorization_failed", 403: "forbidden", 429: "rate_limited", 503: "service_unavailable"}

# Ids in one `status` (one query for all), and in one `sch_del` (each cancel locks and refunds its message).
MAX_IDS = {"status": 1000, "sch_del": 100}


def duplicate_idx(reference: str) -> ApplicationError:
    return ApplicationError(f"A message with idx “{reference}” was sent in the last 24 hours.", code="duplicate_idx")


def smsapi_error(problem: dict) -> tuple[int, int, str]:
    """(SMSAPI error, HTTP status, message) for one of the API's problem documents."""
    code = problem.get("code", "")
    keys = [f"{code}:{name}" for name in sorted(problem.get("errors") or {})] + [code]
    error, status = next((ERRORS[key] for key in keys if key in ERRORS), OTHER_ERROR)
    message = str(problem.get("detail", ""))
    if code == "unauthenticated":
        message = f"Authorization failed: {message}"
    return error, status, message


def invalid_numbers(submitted: list[str]) -> list[dict]:
    """SMSAPI's `invalid_numbers` of a refused send: the numbers as the client wrote them."""
    return [
        {"number": raw.strip().lstrip("+")[:32], "submitted_number": raw[:32], "message": "Invalid phone number"}
        for raw in submitted
        if parse_recipient(raw) is None
    ][:100]


class SmsApiDialect:
    """What every view of the dialect shares: parameters from a form, multipart or JSON body,
    then the query string; answers in JSON; refusals reshaped from the problem document."""

    renderer_classes = [ApiJSONRenderer]
    parser_classes = [FormParser, ApiMultiPartParser, ApiJSONParser]
    content_negotiation_class = JsonAlways
    schema = None  # documented in docs/compatibility.md, not part of the REST API's OpenAPI document
    plain_by_default = False  # sms.do and user.do answer plain text unless asked for `format=json`
    rest_errors = False  # /profile: REST-style errors
    submitted: list[str] = []  # the numbers of a send, for `invalid_numbers`

    def param(self, name: str) -> str | None:
        """A parameter as text (None when absent); a JSON body's number or list is refused."""
        value = request_param(self.request, name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ApplicationError(f"`{name}` is text.", code="invalid_request", errors={name: ["Not text."]})
        return value

    def flag(self, name: str) -> bool:
        return (self.param(name) or "").strip().lower() in ("1", "true")

    def wants_plain(self) -> bool:
        if not self.plain_by_default:
            return False
        try:
            return request_param(self.request, "format") != "json"
        except (exceptions.APIException, RequestDataTooBig):  # the body that could not be read
            return self.request.query_params.get("format") != "json"

    def handle_exception(self, exc):
        problem = super().handle_exception(exc)  # the API's problem document, status and headers
        data = problem.data or {}
        error, status, message = smsapi_error(data)
        if self.rest_errors:
            status = problem.status_code
            body = {"message": message, "error": PROFILE_ERRORS.get(status, data.get("code", "error"))}
        else:
            body = {"error": error, "message": message}
            if data.get("code") == "invalid_recipients":
                body["invalid_numbers"] = invalid_numbers(self.submitted)
        if self.wants_plain():
            answer = HttpResponse(f"ERROR:{error}", status=status, content_type="text/plain; charset=utf-8")
        else:
            answer = Response(body, status=status)
        # Retry-After stays (429, 503); WWW-Authenticate goes: an auth failure is not a 401 here.
        if "Retry-After" in problem:
            answer["Retry-After"] = problem["Retry-After"]
        return answer


# --- Answers ------------------------------------------------------------------------------------

STATUSES = {
    Message.Status.SCHEDULED: "QUEUE",
    Message.Status.QUEUED: "QUEUE",
    Message.Status.SENDING: "QUEUE",
    Message.Status.HELD: "QUEUE",
    Message.Status.SENT: "SENT",
    Message.Status.DELIVERED: "DELIVERED",
    Message.Status.UNDELIVERED: "UNDELIVERED",
    Message.Status.FAILED: "FAILED",
    Message.Status.REJECTED: "REJECTED",
    Message.Status.CANCELED: "CANCELED",
}


def points(value: Decimal) -> float:
    """Points as SMSAPI writes them: a JSON number, at most four decimals."""
    return float(value.quantize(Decimal("0.0001")))


def send_result(message: Message, *, submitted: str, prefix: str = "") -> dict:
    """One SMSAPI `SendResult`: a message as a send or `status` answers it."""
    return {
        "id": prefix + str(message.pk),
        "points": points(message.cost),
        "number": message.recipient.lstrip("+"),
        "date_sent": int((message.scheduled_at or message.created_at).timestamp()),
        "submitted_number": submitted,
        "status": STATUSES.get(message.status, "QUEUE"),
        "error": None,
        "idx": message.reference or None,
        "parts": message.segments,
    }


def spendable(auth) -> Decimal:
    """What the key can spend now: the balance as `GET /api/v1/balance` reads it, or less when
    its user's monthly limit allows less this month."""
    now = balance_now(account_id=auth.account.pk, membership_id=auth.user.membership.pk, now=timezone.now())
    if now is None:  # removed from the account within the last second
        raise Forbidden("The user who created this key is no longer a member.", code="user_inactive")
    if now.monthly_limit is None:
        return now.balance
    return max(min(now.balance, now.monthly_limit - now.monthly_spent), Decimal("0"))


# --- sms.do -------------------------------------------------------------------------------------


class SmsApi(SmsApiDialect, ApiView):
    """`sms.do`: send (P1), `sch_del` (cancel scheduled messages) and `status` (read them)."""

    http_method_names = ["get", "post", "options"]  # not HEAD: Django would run the send for it
    plain_by_default = True

    @property
    def required_scopes(self) -> dict[str, str]:
        # One path, three actions (COMPAT C.6): reading states needs messages:read, the rest messages:send.
        scope = "messages:read" if self.action() == "status" else "messages:send"
        return {"GET": scope, "POST": scope}

    def action(self) -> str:
        if self.param("sch_del") is not None:
            return "cancel"
        return "status" if self.param("status") is not None else "send"

    def get(self, request):
        return getattr(self, self.action())(request)

    post = get

    def ids(self, name: str) -> list[uuid.UUID]:
        raw = [value.strip() for value in (self.param(name) or "").split(",") if value.strip()]
        if len(raw) > MAX_IDS[name]:
            raise ApplicationError(
                f"At most {MAX_IDS[name]} ids at once.", code="invalid_request", errors={name: ["Too many."]}
            )
        try:
            return list(dict.fromkeys(uuid.UUID(value) for value in raw))
        except ValueError:
            raise NotFound("No message with this id.", code="not_found") from None

    def visible(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Message]:
        """The caller's messages among `ids` (its account, its test or live mode, its own without
        `view_messages`), or a refusal naming none of the others (301)."""
        auth = self.request.auth
        found = {m.pk: m for m in visible_messages(user=auth.user, is_test=auth.is_test).filter(pk__in=ids)}
        if not ids or len(found) != len(ids):
            raise NotFound("No message with this id.", code="not_found")
        return found

    def status(self, request):
        ids = self.ids("status")
        found = self.visible(ids)
        results = [send_result(found[pk], submitted=found[pk].recipient) for pk in ids]
        return Response({"count": len(results), "list": results})

    def cancel(self, request):
        auth = request.auth
        ids = self.ids("sch_del")
        self.visible(ids)
        messages_cancel(account_id=auth.account.pk, message_ids=ids, actor=auth.user)  # every one, or none
        return Response({"count": len(ids), "list": [{"id": str(pk)} for pk in ids]})

    def send(self, request):
        auth = request.auth
        self.submitted = [number for number in (self.param("to") or "").split(",") if number.strip()]
        text = self.param("message") or ""
        to_groups = self.groups()
        self.check_parts(text)
        idx = self.param("idx") or ""
        reference, references = self.references(idx, to_groups)
        check_idx = bool(idx) and self.flag("check_idx")
        if check_idx and self.idx_used([reference] if references is None else list(references.values())):
            raise duplicate_idx(idx)
        dry_run = self.flag("test")
        submit = {
            "account_id": auth.account.pk,
            "user": auth.user,
            # With check_idx the idempotency record is the account's (per mode), not the key's: two
            # keys sending the same idx at the same time get one send, as SMSGate's client ids do.
            "caller": f"smsapi:{'test' if auth.is_test else 'live'}" if check_idx else auth.caller,
            "to": self.submitted,
            "to_groups": to_groups,
            "text": text,
            "sender": self.param("from"),
            "scheduled_at": self.date(),
            "reference": reference,
            "references": references,
            # The same idx at the same time: one goes ahead, the other is a replay.
            "idempotency_key": "smsapi-idx:" + hashlib.sha256(idx.encode(errors="replace")).hexdigest()
            if check_idx
            else None,
            "test_mode": auth.is_test or dry_run,
            "account": auth.account,
        }
        if dry_run:  # validated and priced as a send, then nothing of it kept (never charged: test mode)
            with transaction.atomic():
                result = message_submit(**submit)
                transaction.set_rollback(True)
        else:
            result = message_submit(**submit)
        if result.replayed:
            raise duplicate_idx(idx)
        return self.sent(result.messages, prefix="test-" if dry_run else "")

    def groups(self) -> list[int] | None:
        name = self.param("group")
        if name is None:
            return None
        require_group_scope(self.request.auth.scopes, "group")
        group = None
        if not UNSTORABLE.search(name):
            group = group_list(account_id=self.request.auth.account.pk).filter(name__iexact=name.strip()).first()
        if group is None:
            raise ApplicationError(
                f"No contact group named “{name}”.", code="invalid_request", errors={"group": ["Unknown."]}
            )
        return [group.pk]

    def check_parts(self, text: str) -> None:
        """`max_parts` and `nounicode`, on the text as the service counts it."""
        raw, nounicode = (self.param("max_parts") or "").strip(), self.flag("nounicode")
        max_parts = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else None
        if raw and max_parts is None:
            raise ApplicationError(
                "`max_parts` is a number of parts.", code="invalid_request", errors={"max_parts": ["Not a number."]}
            )
        if (max_parts is None and not nounicode) or not text.strip():
            return
        info = count_segments(normalize_newlines(text))
        if max_parts is not None and info.segments > max_parts:
            raise ApplicationError(
                f"The text needs {info.segments} parts; `max_parts` is {max_parts}.", code="too_many_parts"
            )
        if nounicode and info.encoding != Message.Encoding.GSM7:
            raise ApplicationError(
                "The text has characters outside GSM-7 and `nounicode` is set.", code="unicode_not_allowed"
            )

    def date(self) -> datetime | None:
        """`date`: a Unix time in seconds, or ISO 8601 with its zone (`T` or a space between)."""
        value = self.param("date")
        if value is None:
            return None
        value = value.strip()
        try:
            if value.isdigit():
                return datetime.fromtimestamp(int(value), UTC)
            return zoned_time(value)
        except (ValueError, OverflowError, OSError):
            raise ApplicationError(
                "`date` is a Unix time or an ISO 8601 time with its zone.",
                code="invalid_request",
                errors={"date": ["Not a time with a zone."]},
            ) from None

    def references(self, idx: str, to_groups) -> tuple[str, dict[str, str] | None]:
        """`idx`: one reference for every message, or `a|b|c`, one per number of `to`, in order
        (the client joins a list with `|`): (reference, None) or ("", E.164 → reference)."""
        values = idx.split("|")
        if len(values) == 1:
            return idx, None
        if to_groups or len(values) != len(self.submitted):
            raise ApplicationError(
                f"Give one `idx`, or one per number of `to` ({len(self.submitted)}); this one has {len(values)}.",
                code="invalid_request",
                errors={"idx": ["One per number."]},
            )
        references: dict[str, str] = {}
        for raw, value in zip(self.submitted, values, strict=True):
            parsed = parse_recipient(raw)
            if parsed is not None:
                references.setdefault(parsed[0], value)
        return "", references

    def idx_used(self, references: list[str]) -> bool:
        """A message of this account and mode with one of these `idx` in the last 24 hours."""
        if any(UNSTORABLE.search(reference) for reference in references):
            return False  # no message has it (the service refuses it, named)
        auth = self.request.auth
        since = timezone.now() - IDEMPOTENCY_TTL
        return Message.objects.filter(
            account_id=auth.account.pk, is_test=auth.is_test, reference__in=references, created_at__gte=since
        ).exists()

    def sent(self, messages: list[Message], *, prefix: str):
        """The answer to a send: SMSAPI's `SendResponse`, or `OK:<id>:<points>;…` in plain text."""
        by_number: dict[str, str] = {}
        for raw in self.submitted:
            parsed = parse_recipient(raw)
            if parsed is not None:
                by_number.setdefault(parsed[0], raw)
        results = [send_result(m, submitted=by_number.get(m.recipient, m.recipient), prefix=prefix) for m in messages]
        if self.wants_plain():
            text = ";".join(f"OK:{result['id']}:{result['points']}" for result in results)
            return HttpResponse(text, content_type="text/plain; charset=utf-8")
        body: dict = {"count": len(results), "list": results}
        if self.flag("details") and messages:
            body.update(message=messages[0].text, length=len(messages[0].text), parts=messages[0].segments)
        return Response(body)


# --- user.do and profile ------------------------------------------------------------------------


class UserApi(SmsApiDialect, ApiView):
    """`user.do?credits=1`: the balance. Its other actions manage sub-users, which no key may do."""

    http_method_names = ["get", "post", "put", "options"]
    plain_by_default = True

    @property
    def required_scopes(self) -> dict[str, str]:
        return {"GET": "balance:read", "POST": "balance:read"} if self.flag("credits") else {}

    def get(self, request):
        if not self.flag("credits"):
            return self.put(request)
        balance = spendable(request.auth)
        if self.wants_plain():
            return HttpResponse(f"Points: {points(balance)}", content_type="text/plain; charset=utf-8")
        per_sms = PriceList().default
        count = int((balance / per_sms).to_integral_value(ROUND_DOWN)) if per_sms > 0 else 0
        return Response(
            {
                "points": points(balance),
                "proCount": count,
                "ecoCount": count,
                "mmsCount": 0,
                "vmsGsmCount": 0,
                "vmsLandCount": 0,
            }
        )

    post = get

    def put(self, request):  # `set_user`
        raise Forbidden("API keys cannot manage users.", code="forbidden")


class ProfileApi(SmsApiDialect, ApiView):
    """`GET /profile`: who the key is, and its points."""

    required_scopes = {"GET": "balance:read"}
    rest_errors = True

    def get(self, request):
        auth = request.auth
        return Response(
            {
                "name": auth.account.name,
                "email": auth.user.email,
                "username": auth.label,
                "phone_number": "",
                "payment_type": "prepaid",
                "user_type": "native" if auth.user.membership.is_owner else "subuser",
                "points": points(spendable(auth)),
            }
        )


class UnknownEndpoint(SmsApiDialect, APIView):
    """Any other path under /smsapi/: SMSAPI's error in JSON, never Django's HTML page."""

    authentication_classes: list = []
    permission_classes: list = []

    def _unknown(self, request, *args, **kwargs):
        raise ApplicationError("Unknown endpoint.", code="unknown_endpoint", status=404)

    get = post = put = patch = delete = head = options = _unknown
