"""The catalogue of the API's problem codes: what each `code` of a problem document means and what
to do about it. The page `/docs/errors` lists it, and every problem's `type` is that page's URL
with the code as fragment (`problem_type`). `tests/core/test_problem_catalogue.py` reads the
code base and fails on a code that an answer can carry and this table does not list."""

from typing import NamedTuple

from django.conf import settings

ERRORS_PAGE_PATH = "/docs/errors"


class Problem(NamedTuple):
    status: int
    meaning: str
    action: str


PROBLEMS: dict[str, Problem] = {
    # --- 400: the request itself ---
    "invalid_request": Problem(
        400,
        "A field is missing, has the wrong type or value, or is not a field of this endpoint. `errors` names "
        "each field with its messages (an unknown field with the name it probably meant).",
        "Correct the fields named in `errors` and send again.",
    ),
    "invalid_recipients": Problem(
        400,
        "One or more recipients are not valid phone numbers; `errors` lists them. Nothing was sent.",
        "Send numbers in E.164 form (`+447400123456`), or remove the ones named.",
    ),
    "invalid_phone": Problem(
        400, "The phone number is not a valid E.164 number.", "Send it with its country code: `+447400123456`."
    ),
    "text_too_long": Problem(
        400, "The message text needs more segments than one message may have.", "Shorten the text or split it."
    ),
    "blocked_domain": Problem(
        400,
        "A Verify text holds a link to a blocked domain (URL shorteners among them); a code cannot wait for review.",
        "Remove the link or use your own domain.",
    ),
    "unknown_groups": Problem(
        400, "One or more contact group ids do not exist in this account.", "Use ids from `GET /groups`."
    ),
    "unsafe_url": Problem(
        400,
        "The webhook URL is not https (in production) or resolves to a loopback, private, link-local or "
        "metadata address.",
        "Use a public https URL.",
    ),
    # --- 401, 402, 403: who may do what ---
    "unauthenticated": Problem(
        401,
        "No credentials, or the key is unknown, disabled, expired, deleted or reset.",
        "Send `Authorization: Bearer <token>` or Basic credentials that work; see the `WWW-Authenticate` header.",
    ),
    "insufficient_credit": Problem(
        402, "The account's balance does not cover the cost. Nothing was sent or charged.", "Top up the account."
    ),
    "monthly_limit_reached": Problem(
        402,
        "The sub-user's points limit for this calendar month (UTC) would be exceeded. Nothing was sent.",
        "Ask the account owner to raise the limit, or wait for the next month.",
    ),
    "forbidden": Problem(403, "The caller may not do this.", "Use a key of a user who has the permission."),
    "insufficient_scope": Problem(
        403, "The key lacks the scope this operation needs; the detail names it.", "Use a key with that scope."
    ),
    "ip_not_allowed": Problem(
        403, "The request came from an address outside the account's API allowlist.", "Call from an allowed address."
    ),
    "sender_not_allowed": Problem(
        403,
        "The sender name is not approved for the account, or the sub-user may not use it.",
        "Use an approved sender name, or request it in the portal (Messages → Sender names).",
    ),
    "account_suspended": Problem(403, "The account is suspended.", "Contact support."),
    "user_inactive": Problem(
        403,
        "The user who created this key is deactivated or no longer a member, so the key no longer works.",
        "Create a key as an active user.",
    ),
    "outside_sending_window": Problem(
        403,
        "A Verify code cannot be sent outside the sub-user's sending window (it would expire while waiting).",
        "Send it from a key of a user without a window, or within the window.",
    ),
    "opted_out": Problem(
        403, "The number opted out of this account's messages.", "Do not send to it; it must opt in again."
    ),
    # --- 404 to 415: the resource and the exchange ---
    "not_found": Problem(
        404, "No such object for this caller, or no such endpoint.", "Check the id (and that it is your account's)."
    ),
    "method_not_allowed": Problem(405, "The endpoint does not take this HTTP method.", "See the API reference."),
    "not_acceptable": Problem(
        406, "The `Accept` header asks for a format the API does not answer in.", "Accept `application/json`."
    ),
    "conflict": Problem(409, "The request conflicts with the object's state.", "Read the object and try again."),
    "idempotency_conflict": Problem(
        409,
        "The `Idempotency-Key` was used within 24 hours with a different request.",
        "Use a new key for a new request.",
    ),
    "not_cancelable": Problem(
        409,
        "The message is no longer scheduled (or held), so it cannot be canceled.",
        "Nothing to do: it is on its way.",
    ),
    "contact_exists": Problem(
        409, "The number is already a contact of this account.", "Update that contact (`PATCH /contacts/{id}`)."
    ),
    "group_exists": Problem(409, "A group with this name (whatever the case) exists.", "Choose another name."),
    "already_approved": Problem(
        409, "The verification was already approved: a code works once.", "Start a new verification."
    ),
    "endpoint_disabled": Problem(409, "The webhook endpoint is disabled.", "Enable it first."),
    "too_many_endpoints": Problem(
        409, "The account has the most webhook endpoints it may have.", "Delete one you no longer use."
    ),
    "too_many_recipients": Problem(
        413, "More recipients than one request may have (10,000).", "Split the send into several requests."
    ),
    "request_too_large": Problem(413, "The request body is too large.", "Send a smaller body."),
    "unsupported_media_type": Problem(
        415, "The body is not JSON.", "Send `Content-Type: application/json` with a JSON body."
    ),
    # --- 429 and 5xx: slow down, try again ---
    "rate_limited": Problem(
        429,
        "Too many requests for this key or account in this minute.",
        "Wait the `Retry-After` seconds, then retry; spread requests out.",
    ),
    "traffic_cap_reached": Problem(
        429, "The account's hourly sending cap (set by staff) is reached.", "Wait for the next hour or contact support."
    ),
    "number_rate_limited": Problem(
        429, "Too many verifications to this number in 10 minutes.", "Wait the `Retry-After` seconds."
    ),
    "verify_hourly_cap_reached": Problem(
        429, "The account's hourly number of verifications is reached.", "Wait the `Retry-After` seconds."
    ),
    "max_attempts_reached": Problem(
        429, "Too many wrong codes: the verification is closed.", "Start a new verification."
    ),
    "server_error": Problem(
        500, "The server failed; it has been logged.", "Retry later; if it persists, contact support."
    ),
    "service_unavailable": Problem(
        503,
        "A service the request needs is unavailable. Nothing was done.",
        "Retry after the `Retry-After` seconds.",
    ),
}

# Codes of refusals that only the portal's pages, the admin and the management commands show
# (sign-in, second factors, passwords, sub-users, staff's ledger, inbound numbers): never in an API
# answer, so not on the page.
PORTAL_ONLY = frozenset(
    {
        "already_confirmed",
        "duplicate",
        "email_taken",
        "invalid_amount",
        "invalid_number",
        "invalid_timeout",
        "invitation_invalid",
        "ip_refused",
        "locked_out",
        "no_account",
        "no_phone",
        "no_sms_device",
        "not_active",
        "not_deactivated",
        "not_invited",
        "note_required",
        "otp_cooldown",
        "otp_invalid",
        "otp_locked",
        "otp_rate_limited",
        "otp_throttled",
        "password_invalid",
        "permission_escalation",
        "self_lockout",
        "sign_in_expired",
        "two_factor_required",
        "weak_password",
    }
)


def problem_type(code: str) -> str:
    """The `type` of a problem document: the errors page of this deployment at the code's entry,
    absolute (RFC 9457 §3.1.1 asks for absolute URIs: a relative one would be resolved against
    the request's URL, e.g. /api/v1/messages, by clients that resolve it at all)."""
    return f"{settings.PUBLIC_URL}{ERRORS_PAGE_PATH}#{code}"
