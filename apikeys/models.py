"""API tokens, API credentials and short-lived access tokens. Secrets are never stored: API
tokens and credential secrets as SHA-256 digests, access tokens not at all (each is an HMAC of its
id, recomputed to check it)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account
from core.ids import uuid7

SCOPES = {
    "messages:send": "Send messages and cancel scheduled ones",
    "messages:read": "Read messages and their status",
    "contacts:read": "Read contacts and groups",
    "contacts:write": "Create, change and delete contacts and groups",
    "balance:read": "Read the balance and limits",
    "verify": "Send verification codes by SMS (charged like any message) and check them",
    "webhooks:manage": "List, create and delete webhook endpoints",
}
# The sub-user permission each scope needs: a token never does more than its creator may.
SCOPE_PERMISSION = {
    "messages:send": "send_sms",
    "messages:read": "view_messages",
    "contacts:read": "view_contacts",
    "contacts:write": "manage_contacts",
    "balance:read": "view_billing",
    "verify": "send_sms",
    "webhooks:manage": "manage_security",
}


class ApiToken(models.Model):
    """A long-lived Bearer token: `live_<prefix>_<secret>` or `test_<prefix>_<secret>`."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    is_test = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    disabled = models.BooleanField(default=False)
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = the default.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def state(self) -> str:
        if self.disabled:
            return "disabled"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class ApiCredential(models.Model):
    """A key id and secret for Basic authentication and the legacy `smsUser`/`smsKey` parameters."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_credentials")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_credentials")
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=32, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    is_test = models.BooleanField(default=False)
    disabled = models.BooleanField(default=False)
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = the default.")
    created_at = models.DateTimeField(default=timezone.now)
    secret_changed_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def state(self) -> str:
        return "disabled" if self.disabled else "active"


class AccessToken(models.Model):
    """A short-lived token issued by `POST /auth/token` to an API token or credential."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    api_token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    credential = models.ForeignKey(ApiCredential, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    scopes = models.JSONField(default=list)
    ttl = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["api_token", "credential", "expires_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(api_token__isnull=False, credential__isnull=True)
                | models.Q(api_token__isnull=True, credential__isnull=False),
                name="access_token_one_parent",
            )
        ]

    def __str__(self) -> str:
        return f"access token {self.id}"
