"""Webhook endpoints, the deliveries of events to them and each delivery's attempts (SPEC §7)."""

from urllib.parse import urlsplit

from django.db import models
from django.utils import timezone

from accounts.models import Account
from core.ids import uuid7

# The events an endpoint may subscribe to (SPEC §7); `webhook.test` is sent on request only.
EVENTS = {
    "message.sent": "A message was handed to the carrier",
    "message.delivered": "A message reached the phone",
    "message.undelivered": "The carrier could not deliver a message",
    "message.failed": "A message failed (refunded)",
    "message.received": "An SMS came in to one of your numbers",
    "opt_out.created": "A number opted out",
    "opt_out.removed": "A number opted back in",
    "verification.approved": "A verification code was checked and approved",
}
TEST_EVENT = "webhook.test"


def display_url(url: str) -> str:
    """The URL without its query or fragment, which may hold the receiver's own token: what the
    audit log, the admin and the e-mails show."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class Endpoint(models.Model):
    """Where an account's events go. The `whsec_` signing secret is kept encrypted (it must stay
    usable to sign: webhooks/signing.py); after a rotation the previous one signs too until
    `previous_secret_expires_at`."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # The first failed attempt since the last successful one: failing for three days disables it.
    failing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["account", "enabled"])]

    def __str__(self) -> str:
        return display_url(self.url)


class Delivery(models.Model):
    """One event for one endpoint: its `webhook-id` stays the same across every attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # The event's own data (an opt-out that may be gone by now, a test); empty: the resource's
    # current API representation is rendered at each attempt.
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at"]),
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due", condition=models.Q(status="pending")),
            models.Index(fields=["give_up_at"], name="webhook_delivery_give_up", condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"


class Attempt(models.Model):
    """One try at sending a delivery: what the receiver answered (or why nothing was sent)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    created_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)  # at most 1 KB of the answer's body

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} after {self.latency_ms} ms"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
