"""The Verify API's writes (SPEC §5): start a verification (a code sent by SMS), check a code, and
the account's SMS template.

A code is 6 digits from the CSPRNG, stored only as a keyed hash bound to its verification
(security.models.hash_secret: a leaked table cannot be brute-forced offline), compared in constant
time under the verification's row lock. It travels only in the SMS, which is charged like any
message, published at once and redacted once handed over (messaging's `sensitive` messages):
never in a log line, a task argument or an answer.
"""

import hashlib
import hmac
import math
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account, User
from audit import hub
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core.errors import ApplicationError, Conflict, Forbidden, RateLimited, not_found
from core.ids import uuid7
from core.phone import parse_recipient
from core.text import UNSTORABLE
from messaging import sql
from messaging.services import message_submit
from messaging.services.delivery import OPTED_OUT
from messaging.services.screening import screen_text
from security.models import hash_secret
from verify.models import Verification, VerifySettings
from verify.selectors import template_for

APPROVED_EVENT = "verification.approved"  # SPEC §7, published on the hub for webhooks
TEST_CODE = "123456"  # every code of a test key (SPEC §5)
CODE_PLACEHOLDER = "{code}"
TEMPLATE_MAX_LENGTH = 320


def _digest(verification_id, code: str) -> str:
    return hash_secret(code, context=f"verify:{verification_id}")


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


# --- The template -------------------------------------------------------------------------------


def template_clean(template: str) -> str:
    """A template as it may be used: with `{code}`, storable, short enough, and no link the
    blocklist would hold (a held code would wait past its life)."""
    template = template.strip() if isinstance(template, str) else ""

    def refuse(detail: str, error: str) -> ApplicationError:
        return ApplicationError(detail, code="invalid_request", errors={"template": [error]})

    if CODE_PLACEHOLDER not in template:
        raise refuse("The template must contain {code}, where the code goes.", "Must contain {code}.")
    if len(template) > TEMPLATE_MAX_LENGTH:
        raise refuse(
            f"The template is at most {TEMPLATE_MAX_LENGTH} characters.", f"At most {TEMPLATE_MAX_LENGTH} characters."
        )
    if UNSTORABLE.search(template):
        raise refuse("The template holds a character that cannot be stored.", "Invalid character.")
    blocked = screen_text(template)
    if blocked:
        raise refuse(
            f"The template links to {blocked}, a domain whose messages are held for review.",
            f"Links to a blocked domain ({blocked}).",
        )
    return template


def verify_template_set(
    *, account: Account, template: str, actor: User, context: AuditContext = NO_CONTEXT
) -> VerifySettings:
    """The account's verification SMS text (the portal's Verify page, `manage_security`)."""
    template = template_clean(template)
    with transaction.atomic():
        row, _ = VerifySettings.objects.update_or_create(
            account=account, defaults={"template": template, "updated_at": timezone.now()}
        )
        audit_record(action="verify.template_changed", account=account, actor=actor, context=context)
    return row


# --- Starting a verification --------------------------------------------------------------------


def verification_start(
    *,
    account_id: int,
    user: User,
    caller: str,
    to: str,
    template: str | None = None,
    is_test: bool = False,
    account: Account | None = None,
) -> Verification:
    """Send a new code to `to` with the account's template (or `template`, which must hold
    `{code}`), through the sending service: charged (402 without credit), refused whole when the
    send is. At most VERIFY_PER_NUMBER per number in VERIFY_PER_NUMBER_WINDOW and
    VERIFY_ACCOUNT_HOURLY_CAP per account in an hour (429 with Retry-After), test and live
    counted apart; counted under a lock per account, so the caps are exact under concurrency.
    With a test key nothing is sent or charged (a test message) and the code is TEST_CODE."""
    parsed = parse_recipient(to)
    if parsed is None:
        raise ApplicationError(
            "Not a valid phone number in international (E.164) format.",
            code="invalid_recipients",
            errors={"to": ["Invalid number."]},
        )
    number = parsed[0]
    template = template_clean(template) if template is not None else template_for(account_id=account_id)
    verification = Verification(id=uuid7(), account_id=account_id, created_by=user, is_test=is_test, to=number)
    code = TEST_CODE if is_test else new_code()
    verification.code_digest = _digest(verification.pk, code)
    with transaction.atomic():
        _lock_starts(account_id)
        now = timezone.now()  # after the lock: what the caps count is what committed before it
        recent = Verification.objects.filter(account_id=account_id, is_test=is_test)
        _refuse_over(
            recent.filter(to=number),
            limit=settings.VERIFY_PER_NUMBER,
            window=settings.VERIFY_PER_NUMBER_WINDOW,
            now=now,
            code="number_rate_limited",
            detail=f"At most {settings.VERIFY_PER_NUMBER} verifications of one number in "
            f"{_minutes(settings.VERIFY_PER_NUMBER_WINDOW)} minutes.",
        )
        _refuse_over(
            recent,
            limit=settings.VERIFY_ACCOUNT_HOURLY_CAP,
            window=timedelta(hours=1),
            now=now,
            code="verify_hourly_cap_reached",
            detail=f"The account's limit of {settings.VERIFY_ACCOUNT_HOURLY_CAP:,} verifications an hour is reached.",
        )
        sent = message_submit(
            account_id=account_id,
            user=user,
            caller=caller,
            to=[number],
            text=template.replace(CODE_PLACEHOLDER, code),
            test_mode=is_test,
            account=account,
            sensitive=True,
        )
        [message] = sent.messages
        if message.error_code == OPTED_OUT:  # never handed to a gateway: no code would arrive
            raise Forbidden(
                "This number has opted out of the account's messages (it sent STOP), so no code can reach it.",
                code="opted_out",
            )
        verification.message_id = message.id
        verification.created_at = now
        verification.expires_at = now + settings.VERIFY_CODE_VALIDITY
        verification.save(force_insert=True)
    return verification


def _lock_starts(account_id: int) -> None:
    """The account's verification starts one at a time (a transaction-scoped lock of its own: it
    waits for no lock the sending service takes, so no order of locks can deadlock)."""
    digest = hashlib.sha256(f"verify:{account_id}".encode()).digest()
    sql.advisory_lock(key=int.from_bytes(digest[:8], "big", signed=True))


def _refuse_over(rows: QuerySet, *, limit: int, window: timedelta, now: datetime, code: str, detail: str) -> None:
    """A 429 when `rows` already has `limit` in the `window` up to `now`, with Retry-After the time
    until the oldest of those leaves it (a sliding window: one indexed read of one row)."""
    counted = rows.filter(created_at__gt=now - window).order_by("-created_at")
    oldest = list(counted.values_list("created_at", flat=True)[limit - 1 : limit])
    if oldest:
        retry_after = math.ceil((oldest[0] + window - now).total_seconds())
        raise RateLimited(f"{detail} Try again in {retry_after} seconds.", code=code, retry_after=retry_after)


def _minutes(window: timedelta) -> int:
    return int(window.total_seconds() // 60)


# --- Checking a code ----------------------------------------------------------------------------


@transaction.atomic
def verification_check(*, account_id: int, is_test: bool, verification_id, code: str) -> Verification:
    """Check a code under the verification's row lock (of concurrent checks of the right code,
    one approves). Answers the verification: `approved` once; `pending` after a wrong code;
    `expired` past its life; `max_attempts_reached` at the VERIFY_MAX_WRONG_CODES-th wrong code.
    Refused: another account's (or the other mode's) verification (404), one already approved
    (409: the code is single use) and one closed by wrong codes (429)."""
    verification = (
        Verification.objects.select_for_update()
        .filter(account_id=account_id, is_test=is_test, pk=verification_id)
        .first()
    )
    if verification is None:
        raise not_found("verification")
    if verification.status == Verification.Status.APPROVED:
        raise Conflict("This verification is already approved: its code is single use.", code="already_approved")
    if verification.status == Verification.Status.MAX_ATTEMPTS_REACHED:
        raise RateLimited(
            "Too many wrong codes: this verification is closed. Start a new one.", code="max_attempts_reached"
        )
    now = timezone.now()
    if verification.current_status == Verification.Status.EXPIRED:
        if verification.status != Verification.Status.EXPIRED:
            verification.status = Verification.Status.EXPIRED
            verification.save(update_fields=["status"])
        return verification
    code = code.strip() if isinstance(code, str) else ""
    if hmac.compare_digest(verification.code_digest, _digest(verification.pk, code)):
        verification.status = Verification.Status.APPROVED
        verification.approved_at = now
        verification.save(update_fields=["status", "approved_at"])
        hub.publish(
            hub.Event(
                action=APPROVED_EVENT,
                account_id=account_id,
                object_type="verification",
                object_id=str(verification.pk),
            )
        )
        return verification
    verification.wrong_attempts += 1
    if verification.wrong_attempts >= settings.VERIFY_MAX_WRONG_CODES:
        verification.status = Verification.Status.MAX_ATTEMPTS_REACHED
    verification.save(update_fields=["wrong_attempts", "status"])
    return verification
