from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import POINTS, Account
from portal.ids import uuid7


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
        return f"{self.get_kind_display()} {self.amount} ({self.account})"


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
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # System messages (2FA codes, test SMS) are sent for the account but never charged.
    is_system = models.BooleanField(default=False)
    # The text holds a secret (a sign-in code): it is blanked once handed to the gateway.
    sensitive = models.BooleanField(default=False)
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
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["account", "batch_id"]),
            models.Index(fields=["status", "sending_started_at"], name="message_status_started_idx"),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(cost__gte=0), name="message_cost_not_negative")]

    def __str__(self) -> str:
        return f"{self.recipient} ({self.status})"
