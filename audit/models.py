"""The audit trail: who did what, when, from where, on which object."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit.labels import action_label


class AuditEvent(models.Model):
    """Who did what, when, from where, on which object. Written by the services; never edited."""

    # PROTECT: the audit trail is evidence; accounts are suspended, not deleted.
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
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
        db_table = "accounts_auditevent"  # the table it had in the accounts app
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["actor", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S}Z {self.action}"

    @property
    def label(self) -> str:
        """What the event is called on the pages (audit.labels); `action` is its code."""
        return action_label(self.action)
