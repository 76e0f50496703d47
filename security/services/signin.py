"""The two-step sign-in: password, then the second factor, with lockout and alerts."""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import login
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from audit.context import AuditContext
from audit.services import audit_record, security_alert
from core import ratelimit
from core.errors import ApplicationError, Forbidden, RateLimited
from core.ip import get_client_ip
from core.text import counted
from security.models import BackupCodeDevice, IPAllowlistEntry, SMSDevice
from security.services.allowlists import ip_is_allowed, ip_refused
from security.services.devices import known_device_check
from security.services.otp import (
    backup_check,
    backup_codes_left,
    code_refusal,
    has_two_factor,
    otp_sms_send,
    sms_check,
    totp_check,
    wait_words,
)
from security.services.sessions import session_timeout_minutes, sessions_ended_since
from security.session_store import IP_KEY, LAST_SEEN_KEY, STARTED_KEY, USER_AGENT_KEY
from security.sudo import sudo_mark

PENDING_KEY = "accounts.pending_sign_in"


class SignInResult:
    """What the password step leads to: signed in, a second step, or refused."""

    DONE = "done"
    SECOND_FACTOR = "second_factor"
    IP_REFUSED = "ip_refused"


def sign_in_after_password(*, request: HttpRequest, user: User) -> str:
    """The password was right (axes has let it through). Decide the next step.

    The session is never authenticated here when a second factor exists: the user id waits
    in a fresh session (new key) until the code is verified, so no page is reachable by URL.
    The step starts with the authenticator app when one is enrolled (no SMS is sent until the
    user asks for one: sign_in_resend), else with a code by SMS, sent now.
    """
    account = user.account
    if account is not None and not ip_is_allowed(
        account_id=account.pk, scope=IPAllowlistEntry.Scope.PORTAL, ip=get_client_ip(request)
    ):
        ip_refused(context=AuditContext.from_request(request), user=user, account=account, scope="portal")
        return SignInResult.IP_REFUSED
    if not has_two_factor(user):
        sign_in_complete(request=request, user=user, device=None)
        return SignInResult.DONE
    request.session.cycle_key()
    sms = SMSDevice.objects.filter(user=user, confirmed=True).first()
    totp = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    pending = {
        "user_id": user.pk,
        "backend": user.backend,
        "started": timezone.now().isoformat(),
        # What Django ties a signed-in session to: a password changed or reset meanwhile ends
        # this attempt as it ends the user's sessions.
        "auth_hash": user.get_session_auth_hash(),
        "challenge": secrets.token_urlsafe(24),
        "method": "totp" if totp else "sms" if sms else "backup",
        "sms_sent": False,
    }
    request.session[PENDING_KEY] = pending
    if second_step_locked(user):
        pending["send_error"] = second_step_lock_refusal(user).detail  # no SMS: no code would be accepted now
    elif pending["method"] == "sms":
        try:
            otp_sms_send(device_id=sms.pk, challenge=pending["challenge"], context=AuditContext.from_request(request))
        except ApplicationError as exc:
            pending["send_error"] = exc.detail
        else:
            pending["sms_sent"] = True
    return SignInResult.SECOND_FACTOR


def pending_sign_in(request: HttpRequest) -> tuple[User, dict] | None:
    """The user waiting for the second step in this session, if the attempt is still fresh and
    nothing ended it since the password step: a password change or reset, or the user's sessions
    ended ("log out of all devices", deactivation)."""
    pending = request.session.get(PENDING_KEY)
    if not pending:
        return None
    started = datetime.fromisoformat(pending["started"])
    if timezone.now() - started > settings.SIGN_IN_PENDING_MAX_AGE:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.select_related("membership__account").filter(pk=pending["user_id"], is_active=True).first()
    if user is None or not _pending_password_unchanged(user, pending) or sessions_ended_since(user, started):
        request.session.pop(PENDING_KEY, None)
        return None
    return user, pending


def _pending_password_unchanged(user: User, pending: dict) -> bool:
    """Django's own test for a signed-in session, the rotated SECRET_KEYs included."""
    stored = pending.get("auth_hash") or ""
    return constant_time_compare(stored, user.get_session_auth_hash()) or any(
        constant_time_compare(stored, fallback) for fallback in user.get_session_auth_fallback_hash()
    )


# Wrong second-step codes a user may enter in a window; past them, the second step is locked (every
# code refused, a right one too) for a window's length. Axes never sees these failures, and backup
# codes have no device throttle: this cap is what stops guessing with a known password.
OTP_FAILURE_LIMIT = 20


OTP_FAILURE_WINDOW_SECONDS = 30 * 60


OTP_LOCKED_MESSAGE = "Too many wrong codes."


def _second_step_lock_key(user_id: int) -> str:
    return f"2fa-locked:{user_id}"


def second_step_locked(user: User) -> bool:
    return cache.get(_second_step_lock_key(user.pk)) is not None


def second_step_lock_refusal(user: User) -> RateLimited:
    """The refusal while the code step is locked, saying for how long it still is."""
    since = cache.get(_second_step_lock_key(user.pk))
    left = OTP_FAILURE_WINDOW_SECONDS
    if since is not None:
        left -= (timezone.now() - datetime.fromisoformat(since)).total_seconds()
    return RateLimited(
        f"{OTP_LOCKED_MESSAGE} No code is accepted for the next {wait_words(left)}; then try again.",
        code="otp_locked",
        retry_after=max(1, int(left)),
    )


def _second_step_lock(*, request: HttpRequest, user: User) -> None:
    """Lock the code step; the first request to do so audits it and alerts the owner."""
    if not cache.add(_second_step_lock_key(user.pk), timezone.now().isoformat(), timeout=OTP_FAILURE_WINDOW_SECONDS):
        return
    audit_record(
        action="2fa.locked",
        actor=user,
        request=request,
        data={"limit": OTP_FAILURE_LIMIT, "window_minutes": OTP_FAILURE_WINDOW_SECONDS // 60},
    )
    security_alert(
        account=user.account,
        kind="otp_locked",
        subject="Two-factor sign-in locked after repeated wrong codes",
        body=(
            f"More than {OTP_FAILURE_LIMIT} wrong two-factor codes were entered for {user.email} (after the "
            f"password at sign-in, or to confirm a change while signed in) from {get_client_ip(request)}. "
            "Codes are refused until "
            f"{timezone.now() + timedelta(seconds=OTP_FAILURE_WINDOW_SECONDS):%Y-%m-%d %H:%M:%S} UTC.\n\n"
            "If this was not you, someone knows the password or holds a signed-in session: change the password "
            "now, which signs out every other session. You get at most one such e-mail an hour."
        ),
    )


def _second_step_allowed(*, request: HttpRequest, user: User) -> None:
    """What the code step checks before it looks at a code or sends one: the portal allowlist
    (which applies to the sign-in itself, at each step) and the lock after too many wrong codes.
    Either ends the waiting sign-in."""
    account = user.account
    if account is not None and not ip_is_allowed(
        account_id=account.pk, scope=IPAllowlistEntry.Scope.PORTAL, ip=get_client_ip(request)
    ):
        request.session.pop(PENDING_KEY, None)
        ip_refused(context=AuditContext.from_request(request), user=user, account=account, scope="portal")
        raise Forbidden("Your address is not in the account's allowlist.", code="ip_refused")
    if second_step_locked(user):
        request.session.pop(PENDING_KEY, None)
        raise second_step_lock_refusal(user)


def sign_in_resend(*, request: HttpRequest) -> None:
    """A code by SMS for the waiting sign-in: a new one, or the first when the step started with
    the authenticator app ("text me a code instead"). The device's cooldown and the caps apply."""
    found = pending_sign_in(request)
    if found is None:
        raise ApplicationError("The sign-in has expired. Start again.", code="sign_in_expired")
    user, pending = found
    _second_step_allowed(request=request, user=user)
    device = SMSDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise ApplicationError("No phone is set up for codes by SMS.", code="no_sms_device")
    otp_sms_send(device_id=device.pk, challenge=pending["challenge"], context=AuditContext.from_request(request))
    request.session[PENDING_KEY] = {**pending, "sms_sent": True}


def sms_sent(pending: dict) -> bool:
    """Whether this sign-in attempt has texted a code (attempts started before the flag: when
    they started with SMS)."""
    return pending.get("sms_sent", pending.get("method") == "sms")


def sign_in_verify(*, request: HttpRequest, method: str, code: str) -> User:
    """The second step: an SMS code (bound to this attempt), an authenticator code or a backup code.
    Success completes the sign-in with a new session key."""
    found = pending_sign_in(request)
    if found is None:
        raise ApplicationError("The sign-in has expired. Start again.", code="sign_in_expired")
    user, pending = found
    _second_step_allowed(request=request, user=user)
    try:
        device = second_factor_verify(
            request=request, user=user, method=method, code=code, challenge=pending["challenge"]
        )
    except RateLimited as exc:
        if exc.code == "otp_locked":
            request.session.pop(PENDING_KEY, None)  # locked: this attempt is over
        raise
    user.backend = pending["backend"]
    request.session.pop(PENDING_KEY, None)
    sign_in_complete(request=request, user=user, device=device)
    return user


def second_factor_verify(
    *, request: HttpRequest, user: User, method: str, code: str, challenge: str, failure_action: str = "2fa.failed"
) -> Device:
    """Check a code of the user's own second factor: an SMS code (bound to `challenge`), an
    authenticator code or a backup code, each under its device's row lock, so of two requests
    with the same code at most one succeeds. At sign-in and on the re-authentication page alike,
    a wrong code is audited (`failure_action`) and counts toward the lock of the code step."""
    if second_step_locked(user):
        raise second_step_lock_refusal(user)
    code = (code or "").strip()
    with transaction.atomic():
        device, refusal = None, code_refusal("That code is not right.")
        if method == "sms":
            device = SMSDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            if device is not None:
                refusal = sms_check(device, code, challenge=challenge)
        elif method == "totp":
            device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            if device is not None:
                refusal = totp_check(device, code)
        elif method == "backup":
            device = BackupCodeDevice.objects.select_for_update().filter(user=user).first()
            if device is not None:
                refusal = backup_check(device, code)
    # Outside the atomic block: raising inside it would roll back the failure count and throttle.
    if refusal is not None:
        audit_record(action=failure_action, actor=user, request=request, data={"method": method})
        if not ratelimit.hit(f"2fa-fail:{user.pk}", limit=OTP_FAILURE_LIMIT, window_seconds=OTP_FAILURE_WINDOW_SECONDS):
            _second_step_lock(request=request, user=user)
            raise second_step_lock_refusal(user)
        raise refusal
    if method == "backup":
        audit_record(action="2fa.backup_code_used", actor=user, request=request, data={"left": backup_codes_left(user)})
    return device


def sign_in_complete(*, request: HttpRequest, user: User, device: Device | None) -> None:
    """Log the user in (Django rotates the session key), remember the browser, audit."""
    if device is not None:
        user.otp_device = device  # django-otp marks this session verified on login()
    login(request, user, backend=getattr(user, "backend", None))
    now = timezone.now().isoformat()
    request.session[STARTED_KEY] = now
    request.session[LAST_SEEN_KEY] = now
    request.session[IP_KEY] = get_client_ip(request)
    request.session[USER_AGENT_KEY] = request.META.get("HTTP_USER_AGENT", "")[:300]
    request.session.set_expiry(session_timeout_minutes(user) * 60)
    sudo_mark(request.session)  # the password (and the second factor) were just proved
    audit_record(
        action="auth.login.success",
        actor=user,
        request=request,
        data={"second_factor": type(device).__name__ if device is not None else None},
    )
    known_device_check(request=request, user=user)


def sign_in_locked_out(*, request: HttpRequest, credentials: dict | None) -> None:
    """Axes refused a sign-in: audit it (once a minute per e-mail and IP) and alert the owner."""
    from security.lockout import username_from_credentials

    email = username_from_credentials(request, credentials)
    user = User.objects.select_related("membership__account").filter(email=email).first() if email else None
    account = user.account if user is not None else None
    ip = get_client_ip(request)
    if ratelimit.once(f"lockout-audit:{email}:{ip}", seconds=60):
        audit_record(action="auth.lockout", account=account, actor=user, request=request, data={"email": email})
    if user is not None:
        security_alert(
            account=account,
            kind="lockout",
            subject="Sign-in locked after repeated failures",
            body=(
                f"Sign-in for {user.email} was locked at {timezone.now():%Y-%m-%d %H:%M:%S} UTC after repeated "
                f"wrong passwords from {ip}. It unlocks by itself after "
                f"{counted(int(settings.AXES_COOLOFF_TIME.total_seconds() // 60), 'minute')}.\n\n"
                "If this was not you, someone may be guessing the password. You get at most one such e-mail an hour."
            ),
        )


def sign_in_failed(*, request: HttpRequest, email: str) -> None:
    user = User.objects.select_related("membership__account").filter(email=email).first() if email else None
    audit_record(
        action="auth.login.failed",
        account=user.account if user is not None else None,
        actor=user,
        request=request,
        data={"email": _typed_login(email, user)},
    )


def _typed_login(email: str, user: User | None) -> str:
    """What the failure records of the typed login: an account's address, or something shaped
    like one. Anything else is kept out of the audit table: a password typed into the wrong
    field would otherwise be stored there in clear."""
    if user is not None:
        return user.email
    try:
        validate_email(email)
    except ValidationError:
        return "[not an e-mail address]"
    return email[:254]
