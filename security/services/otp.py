"""Second factors: SMS codes, authenticator apps (TOTP) and backup codes."""

import base64
import math
import secrets
import time
from datetime import datetime

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from core import ratelimit
from core.errors import ApplicationError, RateLimited
from core.phone import normalize_phone
from core.text import counted
from security.models import (
    BackupCode,
    BackupCodeDevice,
    SMSDevice,
    hash_secret,
)
from security.services.changes import change_alert


def confirmed_devices(user: User) -> list[Device]:
    devices: list[Device] = []
    for model in (SMSDevice, TOTPDevice, BackupCodeDevice):
        devices.extend(model.objects.filter(user=user, confirmed=True))
    return devices


def has_two_factor(user: User) -> bool:
    return (
        SMSDevice.objects.filter(user=user, confirmed=True).exists()
        or TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    )


def second_factor_methods(user: User) -> dict[str, bool]:
    """Which codes the user can prove a second factor with, in the order offered."""
    return {
        "sms": SMSDevice.objects.filter(user=user, confirmed=True).exists(),
        "totp": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        "backup": backup_codes_left(user) > 0,
    }


def two_factor_required(user: User) -> bool:
    account = user.account
    return user.is_staff or (account is not None and account.require_2fa)


def _check_sms_caps(*, user: User, phone: str, ip: str) -> None:
    limits = [
        (f"otp-sms:user:{user.pk}:h", settings.OTP_SMS_PER_USER_PER_HOUR, 3600),
        (f"otp-sms:user:{user.pk}:d", settings.OTP_SMS_PER_USER_PER_DAY, 86400),
        (f"otp-sms:phone:{phone}:h", settings.OTP_SMS_PER_PHONE_PER_HOUR, 3600),
        (f"otp-sms:ip:{ip}:h", settings.OTP_SMS_PER_IP_PER_HOUR, 3600),
    ]
    for key, limit, window in limits:
        if not ratelimit.hit(key, limit=limit, window_seconds=window):
            wait = window - int(time.time()) % window  # the counters' windows are fixed (core/ratelimit.py)
            raise RateLimited(
                f"Too many codes were sent: you can ask for another one in {wait_words(wait)}. "
                "Meanwhile, use your authenticator app or a backup code if you have one.",
                code="otp_rate_limited",
                retry_after=wait,
            )


def wait_words(seconds: float) -> str:
    """A wait as a person reads it, rounded up: "1 second", "40 seconds", "12 minutes", "2 hours"."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 2 * 3600:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"


@transaction.atomic
def otp_sms_send(*, device_id: int, challenge: str, context: AuditContext = NO_CONTEXT) -> None:
    """Generate a new code for this device and send it as a free system SMS.

    At most one per 30 s per device (django-otp's cooldown) and capped per user, phone and IP.
    """
    device = SMSDevice.objects.select_for_update().select_related("user").get(pk=device_id)
    allowed, info = device.generate_is_allowed()
    if not allowed:
        wait = max(1, int((info["next_generation_at"] - timezone.now()).total_seconds()) + 1)
        raise RateLimited(
            f"A code was sent moments ago. You can ask for a new one in {wait} seconds.",
            code="otp_cooldown",
        )
    ip = context.ip or ""
    _check_sms_caps(user=device.user, phone=device.phone, ip=ip)
    code = device.new_code(challenge=challenge)
    account = device.user.account
    # The messaging app sits above this one: it is reached through a setting, not an import.
    import_string(settings.SECURITY_SMS_SENDER)(
        account=account,
        user=device.user,
        to=device.phone,
        text=(
            f"{code} is your SMS Portal security code. It expires in "
            f"{counted(int(settings.OTP_SMS_CODE_VALIDITY.total_seconds() // 60), 'minute')}. Never share it."
        ),
        sensitive=True,
    )


def _device_lock(model, *, user: User, device_id: int):
    return model.objects.select_for_update().get(pk=device_id, user=user)


@transaction.atomic
def sms_device_start(*, user: User, phone: str, challenge: str, context: AuditContext = NO_CONTEXT) -> SMSDevice:
    """Enrolment step 1: an unconfirmed device for this phone, and a code sent to it. (Like every
    second-factor change, its pages need a recent authentication: security/sudo.py.)"""
    phone = normalize_phone(phone)
    SMSDevice.objects.filter(user=user, confirmed=False).delete()
    device = SMSDevice.objects.create(user=user, name="SMS", phone=phone, confirmed=False)
    otp_sms_send(device_id=device.pk, challenge=challenge, context=context)
    return device


def sms_device_confirm(
    *, user: User, device_id: int, code: str, challenge: str, context: AuditContext = NO_CONTEXT
) -> SMSDevice:
    with transaction.atomic():
        device = _device_lock(SMSDevice, user=user, device_id=device_id)
        if device.confirmed:
            raise ApplicationError("This phone is already confirmed.", code="already_confirmed")
        refusal = sms_check(device, code, challenge=challenge)
        if refusal is None:
            replaced = SMSDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).exists()
            SMSDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            User.objects.filter(pk=user.pk).update(phone=device.phone)
            audit_record(action="2fa.enrolled", actor=user, context=context, target=device, data={"method": "sms"})
            ending = f"a phone number ending in {device.phone[-3:]}"
            change_alert(
                user=user,
                change=f"The phone for sign-in codes was changed to {ending}"
                if replaced
                else f"Two-factor sign-in with codes by SMS to {ending} was set up",
                context=context,
            )
    # Outside the atomic block: raising inside it would roll back the failure count and throttle.
    if refusal is not None:
        audit_record(action="2fa.failed", actor=user, context=context, target=device, data={"step": "enrolment"})
        raise refusal
    return device


# --- Why a code is refused ---------------------------------------------------------------------
# One check per kind of code, used by the sign-in's second step, the re-authentication page and the
# enrolment confirmations alike. Each runs under the caller's row lock and answers None (the code
# is right, and used up) or the refusal to raise once the caller's transaction has committed the
# failure count: a wrong code, an expired or used one, or a try too soon after a wrong one (the
# throttle's pause, with how long to wait). The throttles themselves are django-otp's and the
# device's own, unchanged.


def code_refusal(message: str, *, code: str = "otp_invalid") -> ApplicationError:
    return ApplicationError(message, code=code, errors={"code": [message]})


def throttle_refusal(locked_until: datetime) -> RateLimited:
    """A try during the pause after a wrong code (django-otp's `verify_is_allowed`: 1 s after the
    first failure, then 2, 4, 8 s...): the code was not even looked at, so say wait, not wrong."""
    wait = max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
    message = f"Too many tries in a row: wait {wait_words(wait)}, then enter the code again."
    return RateLimited(message, code="otp_throttled", retry_after=wait, errors={"code": [message]})


def sms_check(device: SMSDevice, code: str, *, challenge: str) -> ApplicationError | None:
    if device.check_code(code, challenge=challenge):
        return None
    if device.refused == "throttled":
        return throttle_refusal(device.locked_until)
    if device.token is None and device.code_failures >= settings.OTP_SMS_MAX_FAILURES:
        return code_refusal(
            "Too many wrong codes: this code no longer works. Ask for a new one.", code="otp_max_attempts"
        )
    if device.refused == "expired":
        minutes = int(settings.OTP_SMS_CODE_VALIDITY.total_seconds() // 60)
        return code_refusal(
            f"This code has expired: codes work for {minutes} minutes. Ask for a new one.", code="otp_expired"
        )
    if device.refused == "spent":
        return code_refusal("This code was already used. Ask for a new one.", code="otp_expired")
    return code_refusal("That code is not right. Check the latest SMS and try again.")


@transaction.atomic
def totp_device_start(*, user: User) -> TOTPDevice:
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def totp_device_confirm(*, user: User, device_id: int, code: str, context: AuditContext = NO_CONTEXT) -> TOTPDevice:
    """Confirm a new authenticator app (the first, or one that replaces the app in use)."""
    with transaction.atomic():
        device = _device_lock(TOTPDevice, user=user, device_id=device_id)
        if device.confirmed:
            raise ApplicationError("This authenticator is already confirmed.", code="already_confirmed")
        refusal = totp_check(device, code)
        if refusal is None:
            replaced = TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).exists()
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            audit_record(action="2fa.enrolled", actor=user, context=context, target=device, data={"method": "totp"})
            change_alert(
                user=user,
                change="The authenticator app for sign-in codes was replaced"
                if replaced
                else "Two-factor sign-in with an authenticator app was set up",
                context=context,
            )
    # Outside the atomic block: raising inside it would roll back the throttle's failure count.
    if refusal is not None:
        audit_record(action="2fa.failed", actor=user, context=context, target=device, data={"step": "enrolment"})
        raise refusal
    return device


TOTP_LOOKBACK_STEPS = 20  # how far back (20 steps of 30 s) a refused code is recognised as an old one


def totp_check(device: TOTPDevice, code: str) -> ApplicationError | None:
    """django-otp's TOTP check with its throttling; the caller holds the row lock."""
    allowed, info = device.verify_is_allowed()
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        device.throttle_increment()  # not even a number: a failure, during the pause too
    elif allowed and device.verify_token(code):
        return None
    if not allowed:
        return throttle_refusal(info["locked_until"])
    step = _totp_recent_step(device, code)
    if step is not None and step <= device.last_t:
        return code_refusal(
            "That code was already used. Wait for the next code your authenticator app shows.", code="otp_expired"
        )
    if step is not None:
        return code_refusal(
            "That code has expired. Enter the code your authenticator app shows now.", code="otp_expired"
        )
    return code_refusal("That code is not right. Check the time on your phone and enter the code your app shows now.")


def _totp_recent_step(device: TOTPDevice, code: str) -> int | None:
    """The time step of the last ten minutes whose code this is, if it is one: a code that was
    right a while ago is expired (or used), not wrong."""
    if not code.isdigit() or len(code) != device.digits:
        return None
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now = time.time()
    for back in range(TOTP_LOOKBACK_STEPS + 1):
        totp.time = now - back * device.step
        if totp.token() == int(code):
            return totp.t()
    return None


def backup_check(device: BackupCodeDevice, code: str) -> ApplicationError | None:
    """Use one of the user's backup codes (a conditional UPDATE: of two requests with the same
    code, one wins)."""
    hashed = backup_hash(device.user_id, code)
    codes = BackupCode.objects.filter(device=device, code_hash=hashed)
    if codes.filter(used_at__isnull=True).update(used_at=timezone.now()) == 1:
        return None
    if codes.exists():
        return code_refusal("That backup code was already used: each works once. Use another one.", code="otp_expired")
    return code_refusal("That backup code is not right. Check it and try again.")


def totp_config_svg(device: TOTPDevice) -> str:
    """The otpauth:// QR code as inline SVG (no JavaScript, no external service)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def totp_secret_base32(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode().rstrip("=")


BACKUP_CODE_COUNT = 10


_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def backup_hash(user_id: int, code: str) -> str:
    return hash_secret(code.replace("-", "").replace(" ", "").lower(), context=f"backup:{user_id}")


@transaction.atomic
def backup_codes_regenerate(*, user: User, context: AuditContext = NO_CONTEXT, alert: bool = True) -> list[str]:
    """Ten new codes (the old ones stop working); returned once to be shown, stored hashed.
    `alert=False` for the first codes of an enrolment, which the enrolment's own alert covers."""
    device, _ = BackupCodeDevice.objects.get_or_create(user=user, defaults={"name": "Backup codes", "confirmed": True})
    BackupCodeDevice.objects.select_for_update().get(pk=device.pk)
    device.codes.all().delete()
    codes = []
    for _ in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    BackupCode.objects.bulk_create([BackupCode(device=device, code_hash=backup_hash(user.pk, c)) for c in codes])
    audit_record(action="2fa.backup_codes_generated", actor=user, context=context, target=device)
    if alert:
        change_alert(user=user, change="New backup codes were made (the earlier ones no longer work)", context=context)
    return codes


def backup_codes_left(user: User) -> int:
    return BackupCode.objects.filter(device__user=user, used_at__isnull=True).count()


@transaction.atomic
def two_factor_disable(*, user: User, context: AuditContext = NO_CONTEXT) -> None:
    if two_factor_required(user):
        raise ApplicationError(
            "Your account requires two-factor sign-in, so it cannot be turned off.", code="two_factor_required"
        )
    SMSDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.filter(user=user).delete()
    BackupCodeDevice.objects.filter(user=user).delete()
    audit_record(action="2fa.disabled", actor=user, context=context)
    change_alert(user=user, change="Two-factor sign-in was turned off", context=context)
