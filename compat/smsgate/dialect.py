"""The SMSGate dialect (shared/COMPAT.md §A): what an SMSGate client sends, read into the
arguments of our services, and our answers and refusals written the way its client library reads
them. Everything SMSGate-specific about wording and shape is here; the views (apis.py) are thin.

One SMSGate message is one of our batches, one of its recipients one of our messages.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.conf import settings
from rest_framework.response import Response

from apikeys.models import SCOPES, AccessToken
from apikeys.services import access_token_secret
from core.api import iso_z, zoned_time
from core.errors import ApplicationError, Conflict
from messaging.models import Message

# The one pseudo-device every account has: SMSGate clients may name a device; we have a gateway.
DEVICE_ID = "sms-portal-gateway-01"
DEVICE_NAME = "SMS portal gateway"
ID_MAX_LENGTH = 36

# --- Errors: our problem code → SMSGate's HTTP status (COMPAT A.6), the one table ----------------
#
# SMSGate's client classifies errors by HTTP status only (400 BadRequestError, 401
# UnauthorizedError, 403 ForbiddenError, 404 NotFoundError, 503 ServiceUnavailableError, any other
# status its base APIError). A code not listed keeps the status of our problem document.

STATUS_BY_CODE: dict[str, int] = {
    "invalid_request": 400,
    "invalid_recipients": 400,
    "text_too_long": 400,
    "unsupported_content": 400,
    "unsupported_media_type": 400,  # "the body must be JSON": a bad request to SMSGate
    "unknown_device": 400,
    "unauthenticated": 401,
    "insufficient_credit": 402,
    "monthly_limit_reached": 402,
    "insufficient_scope": 403,
    "ip_not_allowed": 403,
    "sender_not_allowed": 403,
    "account_suspended": 403,
    "user_inactive": 403,
    "forbidden": 403,
    "outside_sending_window": 403,
    "not_found": 404,
    "duplicate_id": 409,
    "not_cancelable": 409,
    "too_many_recipients": 413,
    "request_too_large": 413,
    "rate_limited": 429,
    "traffic_cap_reached": 429,
    "not_supported": 501,
    "service_unavailable": 503,
}

# Our request fields (as our services name them in `errors`) → the SMSGate request's names.
FIELD_NAMES = {
    "to": "phoneNumbers",
    "text": "textMessage.text",
    "scheduled_at": "scheduleAt",
    "reference": "id",
    "idempotency_key": "id",
}

# Headers of our refusal that the SMSGate answer keeps.
KEPT_HEADERS = ("WWW-Authenticate", "Retry-After", "Allow", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


PATH_PREFIX = "/3rdparty/"


def error_body(message: str, *, status: int, code: str, errors: dict | None = None) -> dict:
    """SMSGate's ErrorResponse: `code` is the HTTP status, ours goes in `data`."""
    data: dict = {"code": code}
    if errors:
        data["errors"] = errors
    return {"message": message, "code": status, "data": data}


class DialectError(ApplicationError):
    """A refusal worded by this module: its `errors` already use SMSGate's names."""


def error_response(problem: Response, *, renamed: bool = False) -> Response:
    """Our problem document (built by the API's one exception handler) as SMSGate's ErrorResponse:
    `{"message", "code": <HTTP status>, "data": {"code": <our code>, "errors"?}}`. The fields our
    services name get SMSGate's names, unless they have them already (`renamed`)."""
    document = problem.data if isinstance(problem.data, dict) else {}
    code = str(document.get("code") or "error")
    status = STATUS_BY_CODE.get(code, problem.status_code)
    names = {} if renamed else FIELD_NAMES
    errors = {names.get(field, field): messages for field, messages in (document.get("errors") or {}).items()}
    message = str(document.get("detail") or document.get("title") or "Error")
    answer = Response(error_body(message, status=status, code=code, errors=errors), status=status)
    for header in KEPT_HEADERS:
        if header in problem:
            answer[header] = problem[header]
    return answer


def not_supported(what: str) -> ApplicationError:
    return ApplicationError(
        f"{what} is not supported by this service (docs/compatibility.md).",
        code="not_supported",
        status=501,
        title="Not Implemented",
    )


def duplicate_id() -> Conflict:
    return Conflict("A message with this id already exists.", code="duplicate_id")


def _invalid(field: str, message: str, detail: str | None = None, code: str = "invalid_request") -> DialectError:
    return DialectError(detail or message, code=code, errors={field: [message]})


# --- Requests in ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendRequest:
    phone_numbers: list[str]
    text: str
    client_id: str | None
    scheduled_at: datetime | None


# What an id cannot hold: it is a path segment (`/messages/{id}`, the `Location` of a send), and a
# stored text.
ID_REFUSED = re.compile("[/\x00-\x1f\x7f\ud800-\udfff]")


def message_id_valid(value: str) -> bool:
    """A message id we could have handed out: a batch id or a client's id (1..36 characters, no
    slash or control character, not `.` or `..`, which a client's URL handling would resolve)."""
    return 0 < len(value) <= ID_MAX_LENGTH and not ID_REFUSED.search(value) and value not in (".", "..")


def send_request(body) -> SendRequest:
    """`POST /messages` (COMPAT A.3). Unknown fields, and those SMSGate's device needs and we do
    not (`simNumber`, `withDeliveryReport`, `priority`, `ttl`, `validUntil`), are ignored."""
    if not isinstance(body, dict):
        raise ApplicationError("The body must be a JSON object (an SMSGate Message).", code="invalid_request")
    for kind in ("dataMessage", "mmsMessage", "hashedMessage"):
        if body.get(kind) is not None:
            raise _invalid(kind, "Only text messages are supported.", code="unsupported_content")
    if body.get("isEncrypted") is True:
        raise _invalid(
            "isEncrypted",
            "End-to-end encrypted messages are not supported: send the text itself.",
            code="unsupported_content",
        )
    numbers = body.get("phoneNumbers")
    if not isinstance(numbers, list) or not numbers or not all(isinstance(number, str) for number in numbers):
        raise _invalid("phoneNumbers", "Give a list of phone numbers (E.164).")
    text_message = body.get("textMessage")
    if text_message is not None:
        text = text_message.get("text") if isinstance(text_message, dict) else None
        if not isinstance(text, str):
            raise _invalid("textMessage.text", "Give the text as a string.")
    else:
        text = body.get("message")  # SMSGate's deprecated top-level form
        if not isinstance(text, str):
            raise _invalid("textMessage.text", "Required.", "Give the message in `textMessage.text`.")
    client_id = body.get("id")
    if client_id is not None and not (isinstance(client_id, str) and message_id_valid(client_id)):
        raise _invalid("id", f"An id is 1 to {ID_MAX_LENGTH} characters, without slashes or control characters.")
    device = body.get("deviceId")
    if device not in (None, "", DEVICE_ID):
        raise _invalid("deviceId", f"Unknown device: the one device is {DEVICE_ID}.", code="unknown_device")
    scheduled_at = None
    if body.get("scheduleAt") is not None:
        try:
            scheduled_at = zoned_time(body["scheduleAt"]) if isinstance(body["scheduleAt"], str) else None
        except ValueError:
            scheduled_at = None
        if scheduled_at is None:
            raise _invalid("scheduleAt", "An RFC 3339 date-time with its zone, e.g. 2026-12-07T09:00:00Z.")
    return SendRequest(phone_numbers=numbers, text=text, client_id=client_id or None, scheduled_at=scheduled_at)


# SMSGate's own scope names, as ours (COMPAT A.4).
SCOPE_ALIASES = {"messages:list": "messages:read", "messages:cancel": "messages:send"}
DEFAULT_TTL = 3600


def token_request(body) -> tuple[list[str], int]:
    """`POST /auth/token`: (our scope names, ttl in seconds)."""
    if not isinstance(body, dict):
        raise ApplicationError("The body must be a JSON object.", code="invalid_request")
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(scope, str) for scope in scopes):
        raise _invalid("scopes", "Give at least one scope.")
    unknown = [scope for scope in scopes if scope not in SCOPES and scope not in SCOPE_ALIASES]
    if unknown:
        shown = ", ".join(unknown[:10])
        raise _invalid("scopes", f"Unknown scope: {shown}.", f"Unknown scope: {shown}.")
    ttl = body.get("ttl")
    if ttl is None or (ttl == 0 and not isinstance(ttl, bool)):  # `false` is not 0 here
        ttl = DEFAULT_TTL
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 60 <= ttl <= 86400:
        raise _invalid("ttl", "Seconds, from 60 to 86400 (0 or none: 3600).")
    return sorted({SCOPE_ALIASES.get(scope, scope) for scope in scopes}), ttl


@dataclass(frozen=True)
class ListQuery:
    since: datetime | None
    until: datetime | None
    state: str | None
    other_device: bool  # a `deviceId` that is not ours: nothing to list
    limit: int
    offset: int
    ascending: bool


def list_query(params) -> ListQuery:
    """`GET /messages`'s query (COMPAT A.2)."""
    errors: dict[str, list[str]] = {}
    moments = {}
    for name in ("from", "to"):
        value = params.get(name)
        moments[name] = None
        if value:
            try:
                moments[name] = zoned_time(value)
            except ValueError:
                errors[name] = ["An RFC 3339 date-time with its zone."]
    state = params.get("state") or None
    if state is not None and state not in PROCESS_STATES:
        errors["state"] = [f"One of {', '.join(PROCESS_STATES)}."]
    numbers = {}
    for name, default, low, high in (("limit", 50, 1, 100), ("offset", 0, 0, 2**31 - 1)):
        value = params.get(name)
        try:
            numbers[name] = default if value in (None, "") else int(value)
        except ValueError:
            numbers[name] = None
        if numbers[name] is None or not low <= numbers[name] <= high:
            errors[name] = [f"A whole number from {low} to {high:,}."]
    sort = params.get("sort") or "-created_at"
    if sort not in ("created_at", "-created_at"):
        errors["sort"] = ["created_at or -created_at."]
    if errors:
        raise DialectError(
            "The request has invalid fields: " + ", ".join(sorted(errors)) + ".", code="invalid_request", errors=errors
        )
    return ListQuery(
        since=moments["from"],
        until=moments["to"],
        state=state,
        other_device=params.get("deviceId") not in (None, "", DEVICE_ID),
        limit=numbers["limit"],
        offset=numbers["offset"],
        ascending=sort == "created_at",
    )


# --- Answers out ----------------------------------------------------------------------------------

# Our message status → SMSGate's ProcessState of that recipient (COMPAT A.4).
STATE_BY_STATUS = {
    Message.Status.SCHEDULED: "Pending",
    Message.Status.QUEUED: "Pending",
    Message.Status.HELD: "Pending",
    Message.Status.SENDING: "Processed",
    Message.Status.SENT: "Sent",
    Message.Status.DELIVERED: "Delivered",
    Message.Status.UNDELIVERED: "Failed",
    Message.Status.FAILED: "Failed",
    Message.Status.REJECTED: "Failed",
    Message.Status.CANCELED: "Cancelled",
}
PROCESS_STATES = ("Pending", "Cancelling", "Cancelled", "Processed", "Sent", "Delivered", "Failed")
# A batch is in the first of these any of its (not cancelled) recipients is in; Cancelled when all are.
BATCH_STATE_ORDER = ("Pending", "Processed", "Failed", "Sent", "Delivered")


def batch_state(states: set[str]) -> str:
    """The state of a batch whose recipients are in `states` (the selectors' SQL says the same)."""
    for state in BATCH_STATE_ORDER:
        if state in states:
            return state
    return "Cancelled"


def message_state(ident: str, messages: list[Message], ended: dict | None = None) -> dict:
    """SMSGate's MessageState of one batch. `ended`: message id → when it failed or was cancelled
    (its status history), for the `Failed`/`Cancelled` times."""
    recipients = []
    states = set()
    # By number: the same order for the send's answer and every read (ids made in the same
    # millisecond do not keep the order of the request).
    messages = sorted(messages, key=lambda message: message.recipient)
    for message in messages:
        state = STATE_BY_STATUS[message.status]
        if state != "Cancelled":
            states.add(state)
        recipient = {"phoneNumber": message.recipient, "state": state}
        if state == "Failed":
            recipient["error"] = message.error_code or message.status
        recipients.append(recipient)
    state = batch_state(states)
    created = min(message.created_at for message in messages)
    times = {"Pending": created}
    live = [message for message in messages if message.status != Message.Status.CANCELED]
    if states <= {"Sent", "Delivered", "Failed"}:
        times["Sent"] = max((m.sent_at for m in live if m.sent_at is not None), default=None)
    if states == {"Delivered"}:
        times["Delivered"] = max((m.delivered_at for m in live if m.delivered_at is not None), default=None)
    if state in ("Failed", "Cancelled"):
        times[state] = max((ended[m.pk] for m in messages if m.pk in (ended or {})), default=None)
    return {
        "id": ident,
        "deviceId": DEVICE_ID,
        "state": state,
        "isHashed": False,
        "isEncrypted": False,
        "recipients": recipients,
        "states": {name: iso_z(moment) for name, moment in times.items() if moment is not None},
        "createdAt": iso_z(created),
    }


def batch_ident(batch_id: UUID, reference: str) -> str:
    """The id SMSGate clients know a batch by: the client's own id (our `reference`), else ours."""
    return reference or str(batch_id)


def token_json(access: AccessToken) -> dict:
    """SMSGate's TokenResponse in both spellings: its server (and reference 001) answer snake_case,
    the 4.3.3 Python client reads camelCase. Never a refresh token: we issue none."""
    secret, expires = access_token_secret(access.id), iso_z(access.expires_at)
    return {
        "id": str(access.id),
        "token_type": "Bearer",
        "access_token": secret,
        "expires_at": expires,
        "tokenType": "Bearer",
        "accessToken": secret,
        "expiresAt": expires,
        "scopes": sorted(access.scopes),
    }


def health_json(results: dict[str, bool] | None) -> tuple[dict, int]:
    """SMSGate's HealthResponse from our readiness checks (None: the process only, no checks)."""
    results = results or {}
    ok = all(results.values())
    checks = {
        name: {"status": "pass" if up else "fail", "description": f"{name} {'reachable' if up else 'unreachable'}"}
        for name, up in results.items()
    }
    version = settings.SPECTACULAR_SETTINGS.get("VERSION", "")
    return {"status": "pass" if ok else "fail", "version": version, "checks": checks}, 200 if ok else 503


def device_json(*, registered: datetime, now: datetime) -> dict:
    moment = iso_z(registered)
    return {"id": DEVICE_ID, "name": DEVICE_NAME, "createdAt": moment, "updatedAt": moment, "lastSeen": iso_z(now)}
