"""Inbound numbers and the SMS sent to them (SPEC §3), and each account's reply setting."""

from django.db import models
from django.utils import timezone

from accounts.models import Account
from core.ids import uuid7


class InboundNumber(models.Model):
    """An E.164 number or a short code that staff assign to one account: SMS sent to it land in
    that account's inbox. Unassigned, its SMS are kept for staff only."""

    number = models.CharField(max_length=16, unique=True, help_text="E.164 (+4930123456) or a short code (12345)")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_numbers"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class InboundMessage(models.Model):
    """One SMS received. `account` is the owner of the number it was sent to when it arrived
    (empty: the number was nobody's, and only staff see it)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="inbound_messages", db_index=False
    )
    sender = models.CharField(max_length=32, help_text="from: E.164 when it reads as a number")
    recipient = models.CharField(max_length=32, help_text="to: the inbound number")
    text = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    smsc = models.CharField(max_length=64, blank=True)
    kannel_ts = models.BigIntegerField(null=True, blank=True, help_text="Kannel's %T (Unix time)")
    # Kannel calls again when it got no answer: the same (from, to, text, ts) is one message. The
    # key is a digest of them (with the arrival's minute when there is no ts); a repeat's INSERT
    # finds it taken and is ignored.
    dedupe_key = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-received_at", "-id"], name="inbound_account_received"),
            models.Index(fields=["account", "sender", "received_at"], name="inbound_account_sender"),
        ]

    def __str__(self) -> str:
        return f"{self.sender} → {self.recipient}"


class InboundSettings(models.Model):
    """An account's answer to STOP and START: a free confirmation SMS from the inbound number
    (on by default, its texts editable in the portal)."""

    DEFAULT_OPT_OUT_REPLY = "You will get no more messages from us. Reply START to receive them again."
    DEFAULT_OPT_IN_REPLY = "You will receive our messages again. Reply STOP to opt out."

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="inbound_settings")
    confirmation_reply = models.BooleanField(default=True)
    opt_out_reply = models.CharField(max_length=300, default=DEFAULT_OPT_OUT_REPLY)
    opt_in_reply = models.CharField(max_length=300, default=DEFAULT_OPT_IN_REPLY)

    class Meta:
        verbose_name_plural = "inbound settings"

    def __str__(self) -> str:
        return f"Inbound settings of {self.account_id}"
