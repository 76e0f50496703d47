from decimal import Decimal

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from accounts.models import POINTS, Account
from core.ids import uuid7
from core.text import points_label


class LedgerEntry(models.Model):
    """One change of an account's balance. The balance always equals the sum of `amount`."""

    class Kind(models.TextChoices):
        TOPUP = "topup", "Top-up"
        DEBIT = "debit", "Debit"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(**POINTS, help_text="Signed: positive adds credit, negative takes it.")
    balance_after = models.DecimalField(**POINTS)
    note = models.CharField(max_length=200, blank=True)
    batch_id = models.UUIDField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(balance_after__gte=0), name="ledger_balance_after_not_negative"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=["topup", "refund"], amount__gt=0)
                    | models.Q(kind="debit", amount__lt=0)
                    | models.Q(kind="adjustment")
                ),
                name="ledger_amount_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {points_label(self.amount)} ({self.account})"


# The text of a message that carried a security code (a Verify code), once handed over.
REDACTED_TEXT = "[redacted: contained a security code]"


class Message(models.Model):
    """One SMS to one recipient."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Undelivered"
        FAILED = "failed", "Failed"
        HELD = "held", "Held for review"
        REJECTED = "rejected", "Rejected"
        CANCELED = "canceled", "Canceled"

    FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "rejected", "canceled"})
    REFUNDED_STATUSES = frozenset({"failed", "rejected", "canceled"})

    class Encoding(models.TextChoices):
        GSM7 = "GSM-7", "GSM-7"
        UCS2 = "UCS-2", "UCS-2"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Empty only for system messages to staff (their 2FA codes), who belong to no account.
    # No index of its own: the (account, is_test, -created_at) and (account, batch_id) indexes
    # serve every lookup by account, and each index costs the INSERT of every message.
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # System messages (2FA codes, test SMS) are sent for the account but never charged.
    is_system = models.BooleanField(default=False)
    # The text holds a secret (a sign-in code): it is blanked once handed to the gateway.
    sensitive = models.BooleanField(default=False)
    # Sent with a test token or credential: never reaches a gateway, never charged, never listed
    # with live messages.
    is_test = models.BooleanField(default=False)
    sender = models.CharField(max_length=16)
    recipient = models.CharField(max_length=16)
    text = models.TextField()
    encoding = models.CharField(max_length=5, choices=Encoding.choices, default=Encoding.GSM7)
    segments = models.PositiveSmallIntegerField(default=1)
    cost = models.DecimalField(**POINTS, default=Decimal("0"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    error_code = models.CharField(max_length=64, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    possible_duplicate = models.BooleanField(default=False)
    reference = models.CharField(max_length=100, blank=True)
    batch_id = models.UUIDField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    # The worker process that last claimed it ("<boot> <pid> <hostname>", messaging/workers.py):
    # the recovery sweep puts a message back at once when that process is provably gone.
    claimed_by = models.CharField(max_length=200, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["account", "is_test", "-created_at"]),
            models.Index(fields=["account", "batch_id"]),
            models.Index(fields=["status", "sending_started_at"], name="message_status_started_idx"),
            # A batch found by its client's id (the SMSGate dialect's `id`, compat/smsgate) or
            # reference. Partial: the messages sent without one (most) cost the index nothing.
            models.Index(
                fields=["account", "is_test", "reference"],
                condition=~models.Q(reference=""),
                name="message_reference_idx",
            ),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(cost__gte=0), name="message_cost_not_negative")]

    def __str__(self) -> str:
        return f"{self.recipient} ({self.status})"


class SenderName(models.Model):
    """An alphanumeric (up to 11 characters) or numeric sender id, requested by the customer and
    approved by staff before use."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sender_names")
    name = models.CharField(max_length=16)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    note = models.CharField(max_length=200, blank=True, help_text="What the name is for (customer) or why (staff).")
    created_at = models.DateTimeField(default=timezone.now)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # The sub-users limited to this name among others (`membership.allowed_senders`; a sub-user
    # limited to none may use every approved name). Declared here, not on Membership, so that
    # accounts refers to no app above it.
    allowed_for = models.ManyToManyField(
        "accounts.Membership",
        blank=True,
        related_name="allowed_senders",
        db_table="accounts_membership_allowed_senders",
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="sender_name_unique_per_account")]

    def __str__(self) -> str:
        return self.name


def validate_price_country(value: str) -> None:
    """A region phone numbers are recognised in, written as parse_recipient answers it (upper
    case): a rule for anything else would silently never apply. Empty is the default rule."""
    if value and value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            "%(value)s is not a country code phone numbers are recognised in; use the ISO 3166 code "
            "in capitals (GB for the United Kingdom, not UK).",
            code="invalid_country",
            params={"value": value},
        )


class PriceRule(models.Model):
    """Points per segment for messages to a country (ISO 3166 alpha-2, upper case, as
    parse_recipient answers); the rule with an empty country is the default price."""

    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_price_country],
        help_text="ISO code, e.g. GB (not UK); empty = every other country.",
    )
    price_per_segment = models.DecimalField(**POINTS)

    class Meta:
        ordering = ["country"]
        constraints = [
            models.UniqueConstraint(fields=["country"], name="price_rule_unique_country"),
            models.CheckConstraint(condition=models.Q(price_per_segment__gte=0), name="price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.country or 'default'}: {self.price_per_segment}"

    def save(self, *args, **kwargs) -> None:
        self.country = self.normalized_country(self.country)
        super().save(*args, **kwargs)

    def clean_fields(self, exclude=None) -> None:
        # "gb" and " GB" mean GB: normalised before the field's validator checks the code.
        self.country = self.normalized_country(self.country)
        super().clean_fields(exclude)

    @staticmethod
    def normalized_country(value: str | None) -> str:
        return (value or "").strip().upper()


class BlockedDomain(models.Model):
    """Links to these domains (or their subdomains) hold a message for staff review."""

    domain = models.CharField(max_length=253, unique=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class MessageEvent(models.Model):
    """A message's status history: every change after it was accepted, with its source."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=12, choices=Message.Status.choices)
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # In the order the changes were applied (under the message's row lock): two reports
        # handled side by side read the clock before they wait for it, so time may disagree.
        ordering = ["id"]
        indexes = [models.Index(fields=["message", "created_at"])]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.status}"


class IdempotencyRecord(models.Model):
    """The first answer to a request with an Idempotency-Key, replayed for 24 hours."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    caller = models.CharField(max_length=64, help_text="user:<id> or token:<id>")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response = models.JSONField()
    status_code = models.PositiveSmallIntegerField(default=202)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "caller", "key"], name="idempotency_unique")]

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"


class TrafficCounter(models.Model):
    """Messages an account had accepted in one clock hour (UTC), for monitoring and caps."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    alerted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "hour"], name="traffic_counter_unique")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.hour:%Y-%m-%d %H}h: {self.count}"


# The text the customer's pages and exports show: a message that carries a security code (a Verify
# code; sign-in codes are never listed) shows as redacted from the start, not only once it is
# handed over and its stored text redacted.
SHOWN_TEXT = models.Case(
    models.When(sensitive=True, then=models.Value(REDACTED_TEXT)),
    default=models.F("text"),
    output_field=models.TextField(),
)
