from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core.models import TimestampedModel
from core.phone import EXAMPLE_MOBILE

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
    phone = models.CharField(max_length=16, blank=True, help_text=f"E.164, e.g. {EXAMPLE_MOBILE}")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)
    password_changed_at = models.DateTimeField(default=timezone.now)
    # When the "password too old" e-mail went out; one per password, not one a day.
    password_reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Inactivity timeout this user chose (minutes); empty = the account's default.
    session_timeout_minutes = models.PositiveIntegerField(null=True, blank=True)
    # The time zone the portal shows this user's times in (an IANA `Area/City` name).
    time_zone = models.CharField(max_length=64, default="UTC")

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

    # Portal preferences (the owner's settings).
    default_country = models.CharField(
        max_length=2,
        blank=True,
        default="",
        help_text="ISO 3166 code (e.g. GB) for numbers typed without a country code in the portal and CSV "
        "imports; empty = only international numbers. The API always takes E.164.",
    )
    low_balance_threshold = models.DecimalField(
        **POINTS, null=True, blank=True, help_text="E-mail the owner when the balance falls below this; empty = never."
    )
    # Set when the balance crossed below the threshold and the owner was told; cleared when it
    # rises back to the threshold or above (one e-mail per crossing).
    low_balance_alerted = models.BooleanField(default=False, editable=False)

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
    # The sender names this sub-user may use (empty = all the account's approved ones) are
    # `allowed_senders`, declared on messaging.SenderName: accounts sits below messaging.

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
