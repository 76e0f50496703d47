import hashlib
import hmac
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_otp.models import CooldownMixin, Device, SideChannelDevice, ThrottlingMixin, TimestampMixin

from core.models import TimestampedModel

POINTS = {"max_digits": 16, "decimal_places": 4}


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email: str):
        # Emails are stored lower-case, so an exact match uses the unique index.
        return self.get(email=email.strip().lower())


class User(AbstractBaseUser, PermissionsMixin):
    """A person. The email is the login; it is stored lower-case and unique regardless of case."""

    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=16, blank=True, help_text="E.164, e.g. +447700900123")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)
    password_changed_at = models.DateTimeField(default=timezone.now)
    # When the "password too old" e-mail went out; one per password, not one a day.
    password_reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Inactivity timeout this user chose (minutes); empty = the account's default.
    session_timeout_minutes = models.PositiveIntegerField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        # Stored lower-case, so the plain unique index is also case-insensitive.
        constraints = [models.CheckConstraint(condition=models.Q(email=Lower("email")), name="user_email_lower_case")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    @property
    def account(self) -> "Account | None":
        membership = getattr(self, "membership", None)
        return membership.account if membership is not None else None

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Account(TimestampedModel):
    """A customer organisation (tenant). Every customer object hangs off one."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    class PasswordAgeMode(models.TextChoices):
        REMIND = "remind", "Remind"
        FORCE = "force", "Force a change"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Changed only by the ledger services, under a row lock; always the sum of the ledger.
    balance = models.DecimalField(**POINTS, default=Decimal("0"), editable=False)

    # Security policy (SPEC §3, §4).
    require_2fa = models.BooleanField(default=False, help_text="Every user must use two-factor sign-in.")
    password_max_age_days = models.PositiveSmallIntegerField(
        default=30, help_text="Days after which a password must be changed; 0 disables the check."
    )
    password_age_mode = models.CharField(max_length=8, choices=PasswordAgeMode.choices, default=PasswordAgeMode.REMIND)
    session_timeout_minutes = models.PositiveIntegerField(default=60, help_text="Default inactivity timeout.")
    session_timeout_max_minutes = models.PositiveIntegerField(
        default=24 * 60, help_text="The longest inactivity timeout a user of this account may choose."
    )

    # Traffic monitoring (staff): messages accepted per clock hour (UTC).
    traffic_alert_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="E-mail the owner when an hour's volume passes this; empty = no alert."
    )
    traffic_cap_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="Refuse sending beyond this many messages in an hour; empty = no cap."
    )
    # API rate limits (staff): requests a minute for the whole account, and for each token by default.
    api_rate_limit_per_minute = models.PositiveIntegerField(default=1200)
    api_token_rate_limit_per_minute = models.PositiveIntegerField(default=600)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="account_balance_not_negative"),
            models.CheckConstraint(
                condition=models.Q(session_timeout_minutes__lte=models.F("session_timeout_max_minutes")),
                name="account_session_timeout_within_max",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Membership(TimestampedModel):
    """A user's place in an account: owner (all permissions) or sub-user (the flags below)."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        SUBUSER = "subuser", "Sub-user"

    PERMISSIONS = (
        "send_sms",
        "view_messages",
        "view_contacts",
        "manage_contacts",
        "manage_api_tokens",
        "manage_users",
        "manage_security",
        "view_billing",
    )

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.SUBUSER)

    send_sms = models.BooleanField(default=True)
    view_messages = models.BooleanField(default=True)
    view_contacts = models.BooleanField(default=False)
    manage_contacts = models.BooleanField(default=False)
    manage_api_tokens = models.BooleanField(default=False)
    manage_users = models.BooleanField(default=False)
    manage_security = models.BooleanField(default=False)
    view_billing = models.BooleanField(default=False)

    # Limits (sub-users only; an owner has none).
    monthly_limit = models.DecimalField(
        **POINTS, null=True, blank=True, help_text="Points per calendar month (UTC); empty means no limit."
    )
    # Spend of `spent_month` (first day of a UTC month), changed under the membership's row lock.
    monthly_spent = models.DecimalField(**POINTS, default=Decimal("0"), editable=False)
    spent_month = models.DateField(null=True, blank=True, editable=False)
    # Sending window: weekdays as ISO numbers (1 = Monday … 7 = Sunday); empty means any time.
    window_weekdays = models.JSONField(default=list, blank=True)
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    window_timezone = models.CharField(max_length=64, default="UTC")
    # Sender names this sub-user may use; empty = all the account's approved ones.
    allowed_senders = models.ManyToManyField("messaging.SenderName", blank=True, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["account", "role"])]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(role="owner"), name="membership_one_owner_per_account"
            ),
            models.CheckConstraint(condition=models.Q(monthly_spent__gte=0), name="membership_spent_not_negative"),
            models.CheckConstraint(
                condition=models.Q(monthly_limit__isnull=True) | models.Q(monthly_limit__gte=0),
                name="membership_limit_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()} of {self.account})"

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER

    def spent_in_month_of(self, moment) -> Decimal:
        """What was spent in the UTC month of `moment` (the counter starts again each month)."""
        return self.monthly_spent if self.spent_month == moment.date().replace(day=1) else Decimal("0")

    def has_permission(self, name: str) -> bool:
        if name not in self.PERMISSIONS:
            raise ValueError(f"unknown permission {name!r}")
        return self.is_owner or bool(getattr(self, name))

    def permissions(self) -> set[str]:
        return {name for name in self.PERMISSIONS if self.has_permission(name)}


class AuditEvent(models.Model):
    """Who did what, when, from where, on which object. Written by the services; never edited."""

    # PROTECT: the audit trail is evidence; accounts are suspended, not deleted.
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    # An API token or credential acting; its public prefix or key id, never a secret.
    actor_token = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["actor", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S}Z {self.action}"


class PasswordHistory(models.Model):
    """Hashes of a user's earlier passwords, so the last few cannot be used again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
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
        indexes = [models.Index(fields=["user", "expire_date"])]

    @classmethod
    def get_session_store_class(cls):
        from accounts.session_store import SessionStore

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
        """Verify under the caller's row lock. Single use; after 5 wrong tries the code is dead."""
        if not self.token or not challenge or timezone.now() >= self.valid_until:
            return False
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            self.throttled = True  # tells the caller to say "wait", not "wrong"
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
        verbose_name = "backup code set"

    def verify_token(self, token) -> bool:
        return False  # used only through accounts.services.backup_code_use, under a row lock


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "code_hash"], name="backup_code_unique")]

    def __str__(self) -> str:
        return f"backup code {self.pk} ({'used' if self.used_at else 'unused'})"
