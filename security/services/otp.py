"""Second factors: SMS codes, authenticator apps (TOTP) and backup codes."""

import base64
import secrets

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_otp.models import Device
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
            raise RateLimited(
                "Too many codes were sent. Wait a while before asking for another one, or use a backup code.",
                code="otp_rate_limited",
            )


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
        ok = device.check_code(code, challenge=challenge)
        if ok:
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
    if not ok:
        audit_record(action="2fa.failed", actor=user, context=context, target=device, data={"step": "enrolment"})
        raise ApplicationError(code_error(device), code="otp_invalid", errors={"code": ["Wrong or expired code."]})
    return device


def code_error(device: SMSDevice) -> str:
    if getattr(device, "throttled", False):
        return "Too many tries in a row: wait a few seconds, then enter the code again."
    if device.token is None and device.code_failures >= settings.OTP_SMS_MAX_FAILURES:
        return "Too many wrong codes: this code no longer works. Ask for a new one."
    if device.token is None or device.valid_until <= timezone.now():
        return "This code has expired or was already used. Ask for a new one."
    return "That code is not right. Check the latest SMS and try again."


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
        ok = totp_verify(device, code)
        if ok:
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
    if not ok:
        audit_record(action="2fa.failed", actor=user, context=context, target=device, data={"step": "enrolment"})
        raise ApplicationError(
            "That code is not right. Check the time on your phone and try the current code.",
            code="otp_invalid",
            errors={"code": ["Wrong code."]},
        )
    return device


def totp_verify(device: TOTPDevice, code: str) -> bool:
    """django-otp's TOTP check with its throttling; the caller holds the row lock."""
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        device.throttle_increment()
        return False
    return device.verify_token(code)


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
