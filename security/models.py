"""Portal security's records: password history, sessions, known browsers, IP allowlists, second factors."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone
from django_otp.models import CooldownMixin, Device, SideChannelDevice, ThrottlingMixin, TimestampMixin

from accounts.models import Account


class PasswordHistory(models.Model):
    """Hashes of a user's earlier passwords, so the last few cannot be used again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_passwordhistory"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "password history"

    def __str__(self) -> str:
        return f"{self.user} at {self.created_at:%Y-%m-%d}"


class UserSession(AbstractBaseSession):
    """A browser session with its user, so sessions can be listed and revoked (SPEC §4.4)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="sessions"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_activity = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_usersession"
        indexes = [models.Index(fields=["user", "expire_date"])]

    @classmethod
    def get_session_store_class(cls):
        from security.session_store import SessionStore

        return SessionStore


class KnownDevice(models.Model):
    """A browser a user has signed in from, recognised by a long-lived signed cookie."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="known_devices")
    # SHA-256 of the random id in the device cookie; the id itself is never stored.
    device_hash = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_knowndevice"
        ordering = ["-last_seen"]
        constraints = [models.UniqueConstraint(fields=["user", "device_hash"], name="known_device_unique")]

    def __str__(self) -> str:
        return f"{self.user}: {self.user_agent[:40]}"


class IPAllowlistEntry(models.Model):
    """An address or CIDR range allowed to reach the portal or the API for an account.

    An empty list allows every address.
    """

    class Scope(models.TextChoices):
        PORTAL = "portal", "Portal"
        API = "api", "API"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ip_allowlist")
    scope = models.CharField(max_length=8, choices=Scope.choices)
    network = models.CharField(max_length=43, help_text="An IPv4/IPv6 address or CIDR range, normalised.")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_ipallowlistentry"
        ordering = ["scope", "id"]
        verbose_name = "IP allowlist entry"
        verbose_name_plural = "IP allowlist entries"
        constraints = [
            models.UniqueConstraint(fields=["account", "scope", "network"], name="ip_allowlist_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()}: {self.network}"


def hash_secret(value: str, *, context: str = "") -> str:
    """Keyed SHA-256 (HMAC) of a short secret such as an OTP or backup code.

    Keyed with SECRET_KEY, so a stolen database alone cannot brute-force six-digit codes.
    """
    key = hashlib.sha256(("accounts.hash_secret:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, f"{context}\x00{value}".encode(), hashlib.sha256).hexdigest()


class SMSDevice(TimestampMixin, ThrottlingMixin, CooldownMixin, SideChannelDevice):
    """SMS two-factor device: codes travel through the product's own message pipeline.

    Only a keyed hash of the current code is stored, bound to one sign-in attempt (the
    `challenge` kept in that attempt's session): a code is useless in another browser.
    """

    phone = models.CharField(max_length=16, help_text="E.164")
    # Overrides SideChannelDevice.token (16 chars): holds the code's hash, never the code.
    token = models.CharField(max_length=64, blank=True, null=True)  # noqa: DJ001 (as in the parent)
    code_failures = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "accounts_smsdevice"
        verbose_name = "SMS device"

    def get_cooldown_duration(self) -> int:
        return settings.OTP_SMS_RESEND_COOLDOWN_SECONDS

    def get_throttle_factor(self) -> int:
        return 1

    def new_code(self, *, challenge: str) -> str:
        """A fresh 6-digit code from the CSPRNG; returns it to be sent, stores only its hash."""
        code = f"{secrets.randbelow(10**6):06d}"
        self.token = hash_secret(code, context=f"sms:{self.pk}:{challenge}")
        self.valid_until = timezone.now() + settings.OTP_SMS_CODE_VALIDITY
        self.code_failures = 0
        self.cooldown_set(commit=False)
        self.save()
        return code

    def check_code(self, code: str, *, challenge: str) -> bool:
        """Verify under the caller's row lock. Single use; after 5 wrong tries the code is dead.

        A refusal leaves its reason in `refused` for the caller's message
        (security.services.otp.sms_check): "spent" (used, or dead after wrong tries), "expired",
        "throttled" (too soon after a wrong code: not even checked; until `locked_until`) or "wrong".
        """
        self.refused, self.locked_until = "", None
        if not self.token:
            self.refused = "spent"
            return False
        if not challenge:
            self.refused = "wrong"  # no code was sent to this browser
            return False
        if timezone.now() >= self.valid_until:
            self.refused = "expired"
            return False
        allowed, info = self.verify_is_allowed()
        if not allowed:
            self.refused, self.locked_until = "throttled", info["locked_until"]
            return False
        expected = hash_secret(code.strip(), context=f"sms:{self.pk}:{challenge}")
        if hmac.compare_digest(self.token, expected):
            self.token = None
            self.valid_until = timezone.now()
            self.code_failures = 0
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
            return True
        self.refused = "wrong"
        self.code_failures += 1
        self.throttle_increment(commit=False)
        if self.code_failures >= settings.OTP_SMS_MAX_FAILURES:
            self.token = None  # a new code is needed
        self.save()
        return False

    def verify_token(self, token) -> bool:
        # Codes are bound to a sign-in attempt; the unbound django-otp entry point never matches.
        return False


class BackupCodeDevice(TimestampMixin, Device):
    """Ten one-time backup codes, stored as keyed hashes and shown once."""

    class Meta:
        db_table = "accounts_backupcodedevice"
        verbose_name = "backup code set"

    def verify_token(self, token) -> bool:
        return False  # used only through accounts.services.backup_code_use, under a row lock


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_backupcode"
        constraints = [models.UniqueConstraint(fields=["device", "code_hash"], name="backup_code_unique")]

    def __str__(self) -> str:
        return f"backup code {self.pk} ({'used' if self.used_at else 'unused'})"
