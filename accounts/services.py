import base64
import hashlib
import ipaddress
import logging
import re
import secrets
from datetime import datetime, timedelta
from decimal import Decimal

import segno
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import (
    Account,
    AuditEvent,
    BackupCode,
    BackupCodeDevice,
    IPAllowlistEntry,
    KnownDevice,
    Membership,
    PasswordHistory,
    SMSDevice,
    User,
    UserSession,
    hash_secret,
)
from accounts.session_store import IP_KEY, LAST_SEEN_KEY, STARTED_KEY, USER_AGENT_KEY
from core import localcache, ratelimit
from core.errors import ApplicationError, Forbidden, NotFound, RateLimited
from core.ip import get_client_ip, parse_ip
from core.ip_networks import contains
from core.phone import normalize_phone

logger = logging.getLogger(__name__)


def audit_record(
    *,
    action: str,
    account: Account | None = None,
    actor: User | None = None,
    actor_token: str = "",
    request: HttpRequest | None = None,
    target=None,
    data: dict | None = None,
) -> AuditEvent:
    """Write one audit event. `data` must never hold a secret (password, token, code)."""
    ip, user_agent = None, ""
    if request is not None:
        ip = get_client_ip(request) or None
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:300]
        if actor is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
            actor = request.user
    if account is None and actor is not None:
        membership = getattr(actor, "membership", None)
        account = membership.account if membership is not None else None
    return AuditEvent.objects.create(
        account=account,
        actor=actor,
        actor_token=actor_token,
        action=action,
        ip=ip,
        user_agent=user_agent,
        object_type=target._meta.label_lower if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        object_repr=str(target)[:200] if target is not None else "",
        data=data or {},
    )


def password_confirm(*, user: User, password: str | None) -> bool:
    """Re-checking the password of a signed-in user (before turning 2FA off, changing the phone…):
    at most 10 tries an hour, so a stolen session cannot guess it."""
    if not ratelimit.hit(f"password-confirm:{user.pk}", limit=10, window_seconds=3600):
        raise RateLimited("Too many password attempts. Try again in an hour.", code="rate_limited")
    return bool(password) and user.check_password(password)


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="weak_password", errors={"password": exc.messages}) from exc


@transaction.atomic
def account_create(
    *,
    name: str,
    owner_email: str,
    owner_password: str,
    owner_name: str = "",
    owner_phone: str = "",
    credit: Decimal = Decimal("0"),
    actor: User | None = None,
) -> Account:
    """A new customer account with its owner; an optional opening credit goes through the ledger."""
    from messaging.services import ledger_topup

    email = User.objects.normalize_email(owner_email.strip()).lower()
    if User.objects.filter(email=email).exists():
        raise ApplicationError(
            "A user with this email already exists.", code="email_taken", errors={"email": ["Taken."]}
        )
    user = User(email=email, full_name=owner_name, phone=owner_phone)
    _check_password(owner_password, user)
    user.set_password(owner_password)
    user.password_changed_at = timezone.now()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # the same e-mail registered a moment ago
        raise ApplicationError(
            "A user with this email already exists.", code="email_taken", errors={"email": ["Taken."]}
        ) from exc
    account = Account.objects.create(name=name.strip() or email)
    Membership.objects.create(user=user, account=account, role=Membership.Role.OWNER)
    audit_record(action="account.created", account=account, actor=actor, target=account, data={"owner": email})
    if credit:
        ledger_topup(account_id=account.pk, points=Decimal(credit), note="Opening credit", actor=actor)
        account.refresh_from_db(fields=["balance"])
    return account


# --- Security alerts --------------------------------------------------------------------------


def security_alert(*, account: Account | None, kind: str, subject: str, body: str) -> bool:
    """E-mail the account's owner about a security event, at most once an hour per kind and account."""
    if account is None:
        return False
    if not ratelimit.once(f"alert:{account.pk}:{kind}", seconds=3600):
        return False
    owner_id = (
        User.objects.filter(membership__account=account, membership__role=Membership.Role.OWNER, is_active=True)
        .values_list("pk", flat=True)
        .first()
    )
    if owner_id is None:
        return False
    _email_after_commit(user_id=owner_id, subject=subject, body=body)
    return True


def user_email(*, user: User, subject: str, body: str) -> None:
    _email_after_commit(user_id=user.pk, subject=subject, body=body)


def _email_after_commit(*, user_id: int, subject: str, body: str) -> None:
    """A notice by e-mail, sent by a Celery task queued once the transaction commits.

    Never from the request itself: an answer that waits on the mail server only when the address
    exists (a lockout, a reset) would tell anyone with a stopwatch which addresses have accounts.
    The text carries no secret (it sits in the broker); the task looks the address up by id.
    """
    from accounts.tasks import send_notice_email

    _queue_after_commit(send_notice_email, kwargs={"user_id": user_id, "subject": subject, "body": body})


def _queue_after_commit(task, *, kwargs: dict, **options) -> None:
    """Queue `task` once the transaction commits. A broker that is down must not turn a committed
    request into an error: the failure is logged (its class only) and the e-mail dropped."""

    def publish() -> None:
        try:
            task.apply_async(kwargs=kwargs, **options)
        except Exception as exc:
            logger.error("the e-mail task %s could not be queued: %s", task.name, type(exc).__name__)

    transaction.on_commit(publish, robust=True)


def notice_email_send(*, user_id: int, subject: str, body: str) -> bool:
    """The notice task's work: send now (the mail server's errors reach the task, which retries).
    False when the user is gone or inactive."""
    email = User.objects.filter(pk=user_id, is_active=True).values_list("email", flat=True).first()
    if email is None:
        return False
    send_mail(subject, body, None, [email])
    return True


def password_reset_request(*, email: str, domain: str, use_https: bool) -> int:
    """Queue a reset e-mail for the active user with this address and a usable password, if any.

    Only the user id and where the portal is reached go to the broker: the task makes the token
    and the link when it sends, so no reset link sits in a queue, a task argument or a log line.
    """
    from accounts.tasks import send_password_reset_email

    users = User.objects.filter(email=User.objects.normalize_email(email.strip()).lower(), is_active=True)
    queued = 0
    for user in users:
        if not user.has_usable_password():
            continue
        _queue_after_commit(
            send_password_reset_email,
            kwargs={"user_id": user.pk, "domain": domain, "use_https": use_https},
            expires=settings.PASSWORD_RESET_TIMEOUT,  # a link asked for long ago is no longer expected
        )
        queued += 1
    return queued


def password_reset_email_send(*, user_id: int, domain: str, use_https: bool) -> bool:
    """The reset task's work: a fresh token and link for the user, sent now. False when the user
    can no longer reset (gone, inactive, no usable password)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    context = {
        "email": user.email,
        "domain": domain,
        "site_name": domain,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https" if use_https else "http",
    }
    subject = "".join(render_to_string("accounts/email/password_reset_subject.txt", context).splitlines())
    send_mail(subject, render_to_string("accounts/email/password_reset.txt", context), None, [user.email])
    return True


# --- IP allowlists ----------------------------------------------------------------------------


def _allowlist_cache_key(account_id: int, scope: str) -> str:
    return f"ip-allowlist:{account_id}:{scope}"


def _allowlist_shared_key(account_id: int, scope: str) -> str:
    """The shared cache's key for the list as of its current version. A change bumps the version
    after it commits: a reader that read the old rows before the commit, and stores them after
    it, stores them under a key no one reads any more (deleting a single key instead would let
    that late write bring the old list back for a minute)."""
    key = _allowlist_cache_key(account_id, scope)
    return f"{key}:{cache.get(key + ':version', 0)}"


def ip_allowlist_changed(account_id: int, scope: str) -> None:
    version_key = _allowlist_cache_key(account_id, scope) + ":version"
    cache.add(version_key, 0, timeout=None)
    cache.incr(version_key)
    localcache.clear()


def ip_allowlist_networks(*, account_id: int, scope: str) -> list[str]:
    """The account's list for `scope`, cached until it changes (a hot path: every page and API
    request), and for at most a second in this process."""
    return localcache.remember(
        _allowlist_cache_key(account_id, scope),
        lambda: cache.get_or_set(  # short: a stale shared copy can only live a minute
            _allowlist_shared_key(account_id, scope),
            lambda: list(
                IPAllowlistEntry.objects.filter(account_id=account_id, scope=scope).values_list("network", flat=True)
            ),
            60,
        ),
    )


def ip_is_allowed(*, account_id: int, scope: str, ip: str) -> bool:
    networks = ip_allowlist_networks(account_id=account_id, scope=scope)
    if not networks:
        return True
    parsed = []
    for entry in networks:
        try:
            parsed.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a bad entry (typed in the admin) allows nothing, and breaks nothing
    return contains(parsed, parse_ip(ip))


def parse_allowlist(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """One entry a line, `address-or-CIDR [note]` (a `#` starts a note too). Returns (entries, errors)."""
    entries: list[tuple[str, str]] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        value, _, note = line.replace("#", " ", 1).partition(" ")
        try:
            if "%" in value:  # an IPv6 zone (fe80::1%eth0) names a local interface, no address range
                raise ValueError
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            errors.append(f"Line {number}: “{value[:60]}” is not an IPv4/IPv6 address or CIDR range.")
            continue
        if network.prefixlen == 0:
            errors.append(f"Line {number}: {network} would allow every address; leave the list empty instead.")
            continue
        normalised = str(network) if network.num_addresses > 1 else str(network.network_address)
        if normalised not in seen:
            seen.add(normalised)
            entries.append((normalised, note.strip()[:200]))
    return entries, errors


@transaction.atomic
def ip_allowlist_replace(
    *, account: Account, scope: str, entries: list[tuple[str, str]], actor: User, request: HttpRequest | None,
    confirm_self_lockout: bool = False,
) -> None:  # fmt: skip
    """Replace one list. Saving a portal list that excludes the caller's own address needs
    `confirm_self_lockout`, since the next page would refuse them."""
    if scope == IPAllowlistEntry.Scope.PORTAL and entries and request is not None:
        ip = parse_ip(get_client_ip(request))
        networks = [ipaddress.ip_network(network, strict=False) for network, _ in entries]
        inside = contains(networks, ip)
        if not inside and not confirm_self_lockout:
            raise ApplicationError(
                f"Your current address {ip} is not in this list: saving it would lock you out of the portal. "
                "Add your address, or confirm that you want to save it anyway.",
                code="self_lockout",
            )
    Account.objects.select_for_update(no_key=True).only("id").get(pk=account.pk)
    before = sorted(IPAllowlistEntry.objects.filter(account=account, scope=scope).values_list("network", flat=True))
    IPAllowlistEntry.objects.filter(account=account, scope=scope).delete()
    IPAllowlistEntry.objects.bulk_create(
        [IPAllowlistEntry(account=account, scope=scope, network=network, note=note) for network, note in entries]
    )
    # A new version now (this transaction's own next reads see the new rows), and again after
    # the commit: readers that read the old rows in between stored them under the version of now.
    ip_allowlist_changed(account.pk, scope)
    transaction.on_commit(lambda: ip_allowlist_changed(account.pk, scope))
    audit_record(
        action="security.ip_allowlist_changed",
        account=account,
        actor=actor,
        request=request,
        data={"scope": scope, "before": before, "after": sorted(network for network, _ in entries)},
    )


def ip_refused(*, request: HttpRequest, user: User, account: Account, scope: str) -> None:
    """Record a refused address (once a minute per user and address) and alert the owner."""
    ip = get_client_ip(request)
    if ratelimit.once(f"ip-refused-audit:{user.pk}:{ip}:{scope}", seconds=60):
        audit_record(action="security.ip_refused", account=account, actor=user, request=request, data={"scope": scope})
    security_alert(
        account=account,
        kind=f"ip_refused:{scope}",
        subject="Access refused from an address outside your allowlist",
        body=(
            f"A request for {user.email} came from {ip}, which is not in the {scope} IP allowlist of "
            f"{account.name}, and was refused at {timezone.now():%Y-%m-%d %H:%M:%S} UTC.\n\n"
            "If this was not you, change your password. You get at most one such e-mail an hour."
        ),
    )


# --- Two-factor devices -----------------------------------------------------------------------


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
def otp_sms_send(*, device_id: int, challenge: str, request: HttpRequest | None) -> None:
    """Generate a new code for this device and send it as a free system SMS.

    At most one per 30 s per device (django-otp's cooldown) and capped per user, phone and IP.
    """
    from messaging.services import message_send_system

    device = SMSDevice.objects.select_for_update().select_related("user").get(pk=device_id)
    allowed, info = device.generate_is_allowed()
    if not allowed:
        wait = max(1, int((info["next_generation_at"] - timezone.now()).total_seconds()) + 1)
        raise RateLimited(
            f"A code was sent moments ago. You can ask for a new one in {wait} seconds.",
            code="otp_cooldown",
        )
    ip = get_client_ip(request) if request is not None else ""
    _check_sms_caps(user=device.user, phone=device.phone, ip=ip)
    code = device.new_code(challenge=challenge)
    account = device.user.account
    message_send_system(
        account=account,
        user=device.user,
        to=device.phone,
        text=f"{code} is your SMS Portal security code. It expires in 5 minutes. Never share it.",
        sensitive=True,
    )


def _device_lock(model, *, user: User, device_id: int):
    return model.objects.select_for_update().get(pk=device_id, user=user)


@transaction.atomic
def sms_device_start(
    *, user: User, phone: str, password: str | None, challenge: str, request: HttpRequest
) -> SMSDevice:
    """Enrolment step 1: an unconfirmed device for this phone, and a code sent to it.

    Replacing the phone of a confirmed device needs the password again.
    """
    phone = normalize_phone(phone)
    if SMSDevice.objects.filter(user=user, confirmed=True).exists() and not password_confirm(
        user=user, password=password
    ):
        raise ApplicationError(
            "Enter your password to change the phone of your two-factor sign-in.",
            code="password_required",
            errors={"password": ["Wrong or missing password."]},
        )
    SMSDevice.objects.filter(user=user, confirmed=False).delete()
    device = SMSDevice.objects.create(user=user, name="SMS", phone=phone, confirmed=False)
    otp_sms_send(device_id=device.pk, challenge=challenge, request=request)
    return device


def sms_device_confirm(*, user: User, device_id: int, code: str, challenge: str, request: HttpRequest) -> SMSDevice:
    with transaction.atomic():
        device = _device_lock(SMSDevice, user=user, device_id=device_id)
        if device.confirmed:
            raise ApplicationError("This phone is already confirmed.", code="already_confirmed")
        ok = device.check_code(code, challenge=challenge)
        if ok:
            SMSDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            User.objects.filter(pk=user.pk).update(phone=device.phone)
            audit_record(action="2fa.enrolled", actor=user, request=request, target=device, data={"method": "sms"})
    # Outside the atomic block: raising inside it would roll back the failure count and throttle.
    if not ok:
        audit_record(action="2fa.failed", actor=user, request=request, target=device, data={"step": "enrolment"})
        raise ApplicationError(_code_error(device), code="otp_invalid", errors={"code": ["Wrong or expired code."]})
    return device


def _code_error(device: SMSDevice) -> str:
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


def totp_device_confirm(
    *, user: User, device_id: int, code: str, request: HttpRequest, password: str | None = None
) -> TOTPDevice:
    """Confirm a new authenticator. Replacing one that already works needs the password again."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists() and not password_confirm(
        user=user, password=password
    ):
        raise ApplicationError(
            "Enter your password to replace your authenticator app.",
            code="password_required",
            errors={"password": ["Wrong or missing password."]},
        )
    with transaction.atomic():
        device = _device_lock(TOTPDevice, user=user, device_id=device_id)
        if device.confirmed:
            raise ApplicationError("This authenticator is already confirmed.", code="already_confirmed")
        ok = _totp_verify(device, code)
        if ok:
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            audit_record(action="2fa.enrolled", actor=user, request=request, target=device, data={"method": "totp"})
    # Outside the atomic block: raising inside it would roll back the throttle's failure count.
    if not ok:
        audit_record(action="2fa.failed", actor=user, request=request, target=device, data={"step": "enrolment"})
        raise ApplicationError(
            "That code is not right. Check the time on your phone and try the current code.",
            code="otp_invalid",
            errors={"code": ["Wrong code."]},
        )
    return device


def _totp_verify(device: TOTPDevice, code: str) -> bool:
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


def _backup_hash(user_id: int, code: str) -> str:
    return hash_secret(code.replace("-", "").replace(" ", "").lower(), context=f"backup:{user_id}")


@transaction.atomic
def backup_codes_regenerate(*, user: User, request: HttpRequest | None) -> list[str]:
    """Ten new codes (the old ones stop working); returned once to be shown, stored hashed."""
    device, _ = BackupCodeDevice.objects.get_or_create(user=user, defaults={"name": "Backup codes", "confirmed": True})
    BackupCodeDevice.objects.select_for_update().get(pk=device.pk)
    device.codes.all().delete()
    codes = []
    for _ in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    BackupCode.objects.bulk_create([BackupCode(device=device, code_hash=_backup_hash(user.pk, c)) for c in codes])
    audit_record(action="2fa.backup_codes_generated", actor=user, request=request, target=device)
    return codes


def backup_codes_left(user: User) -> int:
    return BackupCode.objects.filter(device__user=user, used_at__isnull=True).count()


@transaction.atomic
def two_factor_disable(*, user: User, password: str, request: HttpRequest) -> None:
    if not password_confirm(user=user, password=password):
        raise ApplicationError(
            "Enter your password to turn off two-factor sign-in.",
            code="password_required",
            errors={"password": ["Wrong password."]},
        )
    if two_factor_required(user):
        raise ApplicationError(
            "Your account requires two-factor sign-in, so it cannot be turned off.", code="two_factor_required"
        )
    SMSDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.filter(user=user).delete()
    BackupCodeDevice.objects.filter(user=user).delete()
    audit_record(action="2fa.disabled", actor=user, request=request)


# --- Sign-in ----------------------------------------------------------------------------------

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
    """
    account = user.account
    if account is not None and not ip_is_allowed(
        account_id=account.pk, scope=IPAllowlistEntry.Scope.PORTAL, ip=get_client_ip(request)
    ):
        ip_refused(request=request, user=user, account=account, scope="portal")
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
        "method": "sms" if sms else "totp" if totp else "backup",
    }
    request.session[PENDING_KEY] = pending
    if second_step_locked(user):
        pending["send_error"] = OTP_LOCKED_MESSAGE  # no SMS: no code would be accepted now
    elif sms is not None:
        try:
            otp_sms_send(device_id=sms.pk, challenge=pending["challenge"], request=request)
        except ApplicationError as exc:
            pending["send_error"] = exc.detail
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
    if user is None or not _pending_password_unchanged(user, pending) or _sessions_ended_since(user, started):
        request.session.pop(PENDING_KEY, None)
        return None
    return user, pending


def _pending_password_unchanged(user: User, pending: dict) -> bool:
    """Django's own test for a signed-in session, the rotated SECRET_KEYs included."""
    stored = pending.get("auth_hash") or ""
    return constant_time_compare(stored, user.get_session_auth_hash()) or any(
        constant_time_compare(stored, fallback) for fallback in user.get_session_auth_fallback_hash()
    )


def _sessions_ended_key(user_id: int) -> str:
    return f"sessions-ended:{user_id}"


def _sessions_ended_since(user: User, started: datetime) -> bool:
    ended = cache.get(_sessions_ended_key(user.pk))
    return ended is not None and datetime.fromisoformat(ended) >= started


# Wrong second-step codes a user may enter in a window; past them, the second step is locked (every
# code refused, a right one too) for a window's length. Axes never sees these failures, and backup
# codes have no device throttle: this cap is what stops guessing with a known password.
OTP_FAILURE_LIMIT = 20
OTP_FAILURE_WINDOW_SECONDS = 30 * 60
OTP_LOCKED_MESSAGE = "Too many wrong codes. Sign in again later."


def _second_step_lock_key(user_id: int) -> str:
    return f"2fa-locked:{user_id}"


def second_step_locked(user: User) -> bool:
    return cache.get(_second_step_lock_key(user.pk)) is not None


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
            f"Sign-in for {user.email} passed the password step and then failed the second step more than "
            f"{OTP_FAILURE_LIMIT} times from {get_client_ip(request)}. The second step is locked until "
            f"{timezone.now() + timedelta(seconds=OTP_FAILURE_WINDOW_SECONDS):%Y-%m-%d %H:%M:%S} UTC.\n\n"
            "If this was not you, someone knows the password: change it now. "
            "You get at most one such e-mail an hour."
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
        ip_refused(request=request, user=user, account=account, scope="portal")
        raise Forbidden("Your address is not in the account's allowlist.", code="ip_refused")
    if second_step_locked(user):
        request.session.pop(PENDING_KEY, None)
        raise RateLimited(OTP_LOCKED_MESSAGE, code="otp_locked")


def sign_in_resend(*, request: HttpRequest) -> None:
    found = pending_sign_in(request)
    if found is None:
        raise ApplicationError("The sign-in has expired. Start again.", code="sign_in_expired")
    user, pending = found
    _second_step_allowed(request=request, user=user)
    device = SMSDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise ApplicationError("No phone is set up for codes by SMS.", code="no_sms_device")
    otp_sms_send(device_id=device.pk, challenge=pending["challenge"], request=request)


def sign_in_verify(*, request: HttpRequest, method: str, code: str) -> User:
    """The second step: an SMS code (bound to this attempt), an authenticator code or a backup code.

    Each is checked under its device's row lock, so of two requests with the same code at most
    one succeeds. Success completes the sign-in with a new session key.
    """
    found = pending_sign_in(request)
    if found is None:
        raise ApplicationError("The sign-in has expired. Start again.", code="sign_in_expired")
    user, pending = found
    _second_step_allowed(request=request, user=user)
    code = (code or "").strip()
    with transaction.atomic():
        device, ok, error = None, False, "That code is not right."
        if method == "sms":
            device = SMSDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            if device is not None:
                ok = device.check_code(code, challenge=pending["challenge"])
                error = _code_error(device)
        elif method == "totp":
            device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            if device is not None:
                ok = _totp_verify(device, code)
                error = "That code is not right. Enter the code your authenticator app shows now."
        elif method == "backup":
            device = BackupCodeDevice.objects.select_for_update().filter(user=user).first()
            if device is not None:
                ok = (
                    BackupCode.objects.filter(
                        device=device, code_hash=_backup_hash(user.pk, code), used_at__isnull=True
                    ).update(used_at=timezone.now())
                    == 1
                )
                error = "That backup code is not right or was already used."
    # Outside the atomic block: raising inside it would roll back the failure count and throttle.
    if not ok:
        audit_record(action="2fa.failed", actor=user, request=request, data={"method": method})
        if not ratelimit.hit(f"2fa-fail:{user.pk}", limit=OTP_FAILURE_LIMIT, window_seconds=OTP_FAILURE_WINDOW_SECONDS):
            _second_step_lock(request=request, user=user)
            request.session.pop(PENDING_KEY, None)
            raise RateLimited(OTP_LOCKED_MESSAGE, code="otp_locked")
        raise ApplicationError(error, code="otp_invalid", errors={"code": [error]})
    if method == "backup":
        audit_record(action="2fa.backup_code_used", actor=user, request=request, data={"left": backup_codes_left(user)})
    user.backend = pending["backend"]
    request.session.pop(PENDING_KEY, None)
    sign_in_complete(request=request, user=user, device=device)
    return user


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
    audit_record(
        action="auth.login.success",
        actor=user,
        request=request,
        data={"second_factor": type(device).__name__ if device is not None else None},
    )
    known_device_check(request=request, user=user)


# --- Sessions ---------------------------------------------------------------------------------


def session_timeout_minutes(user: User) -> int:
    account = user.account
    if account is None:
        return user.session_timeout_minutes or 60
    chosen = user.session_timeout_minutes or account.session_timeout_minutes
    return min(chosen, account.session_timeout_max_minutes)


def session_timeout_choices(user: User) -> list[int]:
    account = user.account
    maximum = account.session_timeout_max_minutes if account is not None else max(settings.SESSION_TIMEOUT_CHOICES)
    return [m for m in settings.SESSION_TIMEOUT_CHOICES if m <= maximum]


@transaction.atomic
def session_timeout_set(*, user: User, minutes: int, request: HttpRequest) -> None:
    if minutes not in session_timeout_choices(user):
        raise ApplicationError("Choose one of the offered timeouts.", code="invalid_timeout")
    User.objects.filter(pk=user.pk).update(session_timeout_minutes=minutes)
    user.session_timeout_minutes = minutes
    request.session.set_expiry(minutes * 60)
    audit_record(action="security.session_timeout_changed", actor=user, request=request, data={"minutes": minutes})


def sessions_end(*, user: User, keep_session_key: str | None = None) -> int:
    """End the user's sessions (all, or all but one) at once: rows and cached copies, and every
    sign-in of the user still waiting for its code (those sessions belong to no user yet)."""
    from accounts.session_store import SessionStore

    # Kept longer than a waiting sign-in lives: every attempt that started before now sees it.
    cache.set(
        _sessions_ended_key(user.pk),
        timezone.now().isoformat(),
        timeout=int(settings.SIGN_IN_PENDING_MAX_AGE.total_seconds()) + 60,
    )

    keys = list(UserSession.objects.filter(user=user).exclude(session_key=keep_session_key or "").values_list(
        "session_key", flat=True
    ))  # fmt: skip
    for key in keys:
        SessionStore(session_key=key).delete()
    return len(keys)


def session_revoke(*, user: User, session_key: str, request: HttpRequest) -> None:
    from accounts.session_store import SessionStore

    session = UserSession.objects.filter(user=user, session_key=session_key).first()
    if session is None:
        raise NotFound("That session no longer exists.", code="not_found")
    SessionStore(session_key=session.session_key).delete()
    audit_record(action="security.session_revoked", actor=user, request=request, data={"ip": session.ip})


def sessions_end_others(*, user: User, request: HttpRequest) -> int:
    count = sessions_end(user=user, keep_session_key=request.session.session_key)
    audit_record(action="security.sessions_ended", actor=user, request=request, data={"count": count})
    return count


@transaction.atomic
def user_deactivate(*, user: User, actor: User | None, request: HttpRequest | None = None) -> None:
    """A deactivated user is signed out everywhere at once."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    sessions_end(user=user)
    transaction.on_commit(localcache.clear)  # its API keys stop at once here, within a second elsewhere
    audit_record(action="user.deactivated", account=user.account, actor=actor, request=request, target=user)


# --- Known devices ----------------------------------------------------------------------------


def device_hash(device_id: str) -> str:
    return hashlib.sha256(device_id.encode()).hexdigest()


def known_device_check(*, request: HttpRequest, user: User) -> None:
    """Recognise this browser by its signed cookie; a browser new to this user gets an e-mail."""
    device_id = request.get_signed_cookie(settings.DEVICE_COOKIE_NAME, default=None, salt="accounts.device")
    if not device_id:
        device_id = secrets.token_urlsafe(32)
    request.device_cookie = device_id  # the view's response sets (or refreshes) the cookie
    ip = get_client_ip(request) or None
    agent = request.META.get("HTTP_USER_AGENT", "")[:300]
    digest = device_hash(device_id)
    updated = KnownDevice.objects.filter(user=user, device_hash=digest).update(
        last_seen=timezone.now(), ip=ip, user_agent=agent
    )
    if updated:
        return
    KnownDevice.objects.create(user=user, device_hash=digest, ip=ip, user_agent=agent)
    audit_record(action="auth.new_device", actor=user, request=request, data={"browser": describe_user_agent(agent)})
    user_email(
        user=user,
        subject="New sign-in to your SMS Portal account",
        body=(
            f"Your account {user.email} was just signed in to from a browser it had not been used from before.\n\n"
            f"Time: {timezone.now():%Y-%m-%d %H:%M:%S} UTC\n"
            f"IP address: {ip or 'unknown'}\n"
            f"Browser: {describe_user_agent(agent)}\n\n"
            "If this was you, there is nothing to do. If not, change your password now and end all other "
            "sessions on the security page."
        ),
    )


def known_device_forget(*, user: User, device_pk: int, request: HttpRequest) -> None:
    deleted, _ = KnownDevice.objects.filter(user=user, pk=device_pk).delete()
    if not deleted:
        raise NotFound("That device is not in your list.", code="not_found")
    audit_record(action="security.device_forgotten", actor=user, request=request)


def describe_user_agent(agent: str) -> str:
    """A short human name for a User-Agent: "Chrome 120 on Windows"."""
    browser = "Unknown browser"
    for pattern, name in (
        (r"Edg/(\d+)", "Edge"),
        (r"OPR/(\d+)", "Opera"),
        (r"Firefox/(\d+)", "Firefox"),
        (r"(?:HeadlessChrome|Chrome|Chromium)/(\d+)", "Chrome"),
        (r"Version/(\d+).*Safari/", "Safari"),
        (r"curl/(\d+)", "curl"),
    ):
        match = re.search(pattern, agent)
        if match:
            browser = f"{name} {match.group(1)}"
            break
    system = next(
        (name for key, name in (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"),
                                ("Mac OS X", "macOS"), ("Linux", "Linux")) if key in agent),
        "",
    )  # fmt: skip
    return f"{browser} on {system}" if system else browser


# --- Passwords --------------------------------------------------------------------------------


def password_expired(user: User) -> bool:
    account = user.account
    if account is None or not account.password_max_age_days:
        return False
    return timezone.now() - user.password_changed_at > timedelta(days=account.password_max_age_days)


def password_change_forced(user: User) -> bool:
    account = user.account
    return account is not None and account.password_age_mode == Account.PasswordAgeMode.FORCE and password_expired(user)


@transaction.atomic
def password_set(*, user: User, new_password: str, request: HttpRequest | None, reason: str = "change") -> None:
    """Set a new password under the policy; the old hash joins the history.

    Every session of the user ends (Django ties sessions to the password hash); the caller keeps
    its own session with update_session_auth_hash. API tokens are untouched.
    """
    _check_password(new_password, user)
    if user.password:
        PasswordHistory.objects.create(user=user, password=user.password)
        stale = (
            PasswordHistory.objects.filter(user=user)
            .order_by("-created_at", "-id")
            .values_list("pk", flat=True)[PASSWORD_HISTORY_KEEP:]
        )
        PasswordHistory.objects.filter(pk__in=list(stale)).delete()
    user.set_password(new_password)
    user.password_changed_at = timezone.now()
    user.password_reminder_sent_at = None
    user.save(update_fields=["password", "password_changed_at", "password_reminder_sent_at"])
    # Django already refuses sessions made with the old password; delete their rows too, so the
    # session list shows the truth. The caller's own session survives a change, not a reset.
    keep = request.session.session_key if request is not None and hasattr(request, "session") else None
    transaction.on_commit(lambda: sessions_end(user=user, keep_session_key=keep))
    audit_record(action="auth.password_changed", actor=user, request=request, data={"reason": reason})


PASSWORD_HISTORY_KEEP = 5


def password_age_reminders_send() -> int:
    """E-mail users whose password is older than their account allows, once per password."""
    sent = 0
    candidates = (
        User.objects.filter(is_active=True, password_reminder_sent_at__isnull=True, membership__isnull=False)
        .exclude(membership__account__password_max_age_days=0)
        .select_related("membership__account")
    )
    now = timezone.now()
    for user in candidates.iterator(chunk_size=500):
        if not password_expired(user):
            continue
        with transaction.atomic():
            claimed = User.objects.filter(pk=user.pk, password_reminder_sent_at__isnull=True).update(
                password_reminder_sent_at=now
            )
            if not claimed:
                continue
            mode = user.account.password_age_mode
            user_email(
                user=user,
                subject="Time to change your SMS Portal password",
                body=(
                    f"The password of {user.email} is older than the {user.account.password_max_age_days} days "
                    f"your account allows.\n\n"
                    + (
                        "You will be asked to change it the next time you sign in."
                        if mode == Account.PasswordAgeMode.FORCE
                        else "Please change it on the security page of the portal."
                    )
                ),
            )
        sent += 1
    return sent


def sign_in_locked_out(*, request: HttpRequest, credentials: dict | None) -> None:
    """Axes refused a sign-in: audit it (once a minute per e-mail and IP) and alert the owner."""
    from accounts.lockout import username_from_credentials

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
                f"{int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)} minutes.\n\n"
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


@transaction.atomic
def account_policy_update(*, account: Account, data: dict, actor: User, request: HttpRequest) -> Account:
    fields = [
        "require_2fa",
        "password_max_age_days",
        "password_age_mode",
        "session_timeout_minutes",
        "session_timeout_max_minutes",
    ]
    locked = Account.objects.select_for_update(no_key=True).get(pk=account.pk)
    before = {field: getattr(locked, field) for field in fields}
    for field in fields:
        setattr(locked, field, data[field])
    if locked.session_timeout_minutes > locked.session_timeout_max_minutes:
        raise ApplicationError("The default timeout cannot be longer than the maximum.", code="invalid_timeout")
    locked.save(update_fields=[*fields, "updated_at"])
    changes = {field: [before[field], data[field]] for field in fields if before[field] != data[field]}
    if changes:
        audit_record(action="security.policy_changed", account=locked, actor=actor, request=request, data=changes)
    return locked
