"""An account's address book: contacts (one per phone number) and groups of them to send to."""

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Account


class Group(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contact_groups")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Case-insensitive: "Customers" and "customers" would be two groups no one can tell apart.
            models.UniqueConstraint("account", Lower("name"), name="contacts_group_unique_name"),
        ]
        indexes = [models.Index(fields=["account", "name"], name="contacts_group_account_name")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    phone = models.CharField(max_length=16, help_text="E.164")
    name = models.CharField(max_length=100, blank=True)
    groups = models.ManyToManyField(Group, related_name="contacts", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["account", "phone"], name="contacts_contact_unique_phone")]
        indexes = [
            # The lists: newest first, and by name in the portal (searching by name starts here too).
            models.Index(fields=["account", "-id"], name="contacts_contact_account_id"),
            models.Index(fields=["account", "name"], name="contacts_contact_account_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.phone}".strip()


class OptOut(models.Model):
    """A number that asked (STOP) or was set (portal, API) not to receive the account's messages:
    a send to it is `rejected` with `opted_out`, free, never handed to a gateway (SPEC §3)."""

    class Source(models.TextChoices):
        SMS = "sms", "SMS keyword"
        PORTAL = "portal", "Portal"
        API = "api", "API"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opt_outs")
    phone = models.CharField(max_length=16, help_text="E.164")
    source = models.CharField(max_length=8, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = "opt-out"
        constraints = [models.UniqueConstraint(fields=["account", "phone"], name="contacts_optout_unique_phone")]
        # The unique constraint's index serves a send's lookup (account, phone IN …); this one the list.
        indexes = [models.Index(fields=["account", "-id"], name="contacts_optout_account_id")]

    def __str__(self) -> str:
        return self.phone
