"""Re-authentication for sudo mode (security/sudo.py): a signed-in user proves again who they are,
with the password or a code of their current second factor. Wrong answers count exactly as at
sign-in: a wrong password toward django-axes' lockout of the (e-mail, address) pair and of the
e-mail, a wrong code toward the lock of the code step. Like the sign-in protocol, these steps are
changes to the session, so they take the request."""

import secrets

from axes.utils import reset as axes_reset
from django.contrib.auth import authenticate
from django.http import HttpRequest

from audit.context import AuditContext
from audit.services import audit_record
from core.errors import ApplicationError, RateLimited
from core.ip import get_client_ip
from security.models import SMSDevice
from security.services.otp import otp_sms_send, second_factor_methods
from security.services.signin import second_factor_verify, second_step_lock_refusal, second_step_locked
from security.sudo import sudo_mark

CHALLENGE_KEY = "security.reauth_challenge"

FAILED = "auth.reauth.failed"


def reauth_methods(user) -> dict[str, bool]:
    """The password (when the user has one), then each second factor the user has."""
    return {"password": user.has_usable_password(), **second_factor_methods(user)}


def reauthenticate(*, request: HttpRequest, method: str, secret: str) -> None:
    """Check the password or a second-factor code of the signed-in user; on success the session
    counts as freshly authenticated. Raises `ApplicationError` (wrong) or `RateLimited` (locked)."""
    user = request.user
    if not reauth_methods(user).get(method):
        raise ApplicationError("Choose one of the offered ways to confirm it's you.", code="invalid_request")
    if method == "password":
        checked = authenticate(request, username=user.email, password=secret or "")
        if checked is None or checked.pk != user.pk:
            audit_record(action=FAILED, actor=user, request=request, data={"method": method})
            if getattr(request, "axes_locked_out", False):  # AxesMiddleware answers with the lockout page
                raise RateLimited("Too many wrong passwords.", code="locked_out")
            error = "That password is not right."
            raise ApplicationError(error, code="password_invalid", errors={"password": [error]})
        # As a successful sign-in does (AXES_RESET_ON_SUCCESS): this pair's failures are forgotten.
        axes_reset(ip=get_client_ip(request), username=user.email)
    else:
        second_factor_verify(
            request=request,
            user=user,
            method=method,
            code=secret,
            challenge=request.session.get(CHALLENGE_KEY, ""),
            failure_action=FAILED,
        )
        request.session.pop(CHALLENGE_KEY, None)
    sudo_mark(request.session)
    audit_record(action="auth.reauth.success", actor=user, request=request, data={"method": method})


def reauth_sms_send(*, request: HttpRequest) -> str:
    """Text a code to the user's phone for the re-authentication page, bound to this session.
    Returns the phone it went to."""
    user = request.user
    if second_step_locked(user):
        raise second_step_lock_refusal(user)  # no SMS: no code would be accepted now
    device = SMSDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise ApplicationError("No phone is set up for codes by SMS.", code="no_sms_device")
    challenge = secrets.token_urlsafe(24)
    otp_sms_send(device_id=device.pk, challenge=challenge, context=AuditContext.from_request(request))
    request.session[CHALLENGE_KEY] = challenge
    return device.phone
