"""Verifications (SPEC §5): a one-time code sent by SMS to a number and checked. The code itself
is never stored: only its keyed hash (security.models.hash_secret, bound to the verification)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account
from core.ids import uuid7


class Verification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        EXPIRED = "expired", "Expired"
        MAX_ATTEMPTS_REACHED = "max_attempts_reached", "Too many wrong codes"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # No index of its own: the two below start with the account.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="verifications", db_index=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Made with a test key: nothing sent or charged, the code is 123456; never seen by live keys.
    is_test = models.BooleanField(default=False)
    to = models.CharField(max_length=16, help_text="E.164")
    code_digest = models.CharField(max_length=64)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    wrong_attempts = models.PositiveSmallIntegerField(default=0)
    # The SMS that carried the code (its text is redacted once handed to the gateway).
    message_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The caps: per number in the last 10 minutes, per account in the last hour.
            models.Index(fields=["account", "is_test", "to", "-created_at"], name="verify_number_recent"),
            models.Index(fields=["account", "is_test", "-created_at"], name="verify_account_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.to} ({self.current_status})"

    @property
    def current_status(self) -> str:
        """The status as of now: a pending verification past its life is expired."""
        if self.status == self.Status.PENDING and timezone.now() >= self.expires_at:
            return self.Status.EXPIRED
        return self.status


class VerifySettings(models.Model):
    """An account's Verify settings: the text of its verification SMS."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="+")
    template = models.CharField(max_length=320)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "verify settings"

    def __str__(self) -> str:
        return f"Verify settings of {self.account_id}"
