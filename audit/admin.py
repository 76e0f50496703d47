"""The audit trail in the admin (read-only), and the mixin that audits every staff change."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import transaction

from audit.context import AuditContext
from audit.models import AuditEvent
from core import localcache
from core.admin import ReadOnlyAdminMixin


def _account_of(obj):
    """The account an object belongs to, for its audit event: the account itself, a row with an
    account, or a user's (or a user's device's) account."""
    Account = AuditEvent._meta.get_field("account").related_model
    User = get_user_model()
    if isinstance(obj, Account):
        return obj
    if getattr(obj, "account_id", None) is not None:  # a membership, an allowlist entry
        return obj.account
    user = obj if isinstance(obj, User) else getattr(obj, "user", None)  # a user, a device
    membership = getattr(user, "membership", None) if user is not None else None
    return membership.account if membership is not None else None


class StaffAuditMixin:
    """Every staff change in the admin (a 2FA device removed, a policy switched off, an allowlist
    edited, a password set) is also an event in the customer account's audit log, beside
    Django's own admin log: `admin.added`, `admin.changed` or `admin.deleted`, with the model and
    what changed (field names only: never a value, so never a password or a secret)."""

    def _audit(self, request, obj, action: str, changes) -> None:
        from audit.services import audit_record

        # An account suspended, a permission taken, a key disabled: the API's per-process copy of
        # the keys' rows (core.localcache) must not let this worker admit the old state.
        transaction.on_commit(localcache.clear)

        audit_record(
            action=action,
            account=_account_of(obj),
            actor=request.user,
            context=AuditContext.from_request(request),
            target=obj,
            data={"model": obj._meta.label_lower, "changes": changes or []},
        )

    def log_addition(self, request, obj, message):
        self._audit(request, obj, "admin.added", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "admin.changed", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "admin.deleted", [])
        return super().log_deletions(request, queryset)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the audit log is evidence."""

    list_display = ["created_at", "action", "account", "actor", "actor_token", "ip", "object_repr"]
    list_filter = ["action"]
    search_fields = ["action", "actor__email", "account__name", "ip", "object_id"]
    date_hierarchy = "created_at"
    list_select_related = ["account", "actor"]
