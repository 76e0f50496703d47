from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from verify.models import Verification, VerifySettings


@admin.register(Verification)
class VerificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only; the code's digest is never shown."""

    list_display = ["id", "to", "status", "account", "is_test", "wrong_attempts", "created_at"]
    list_filter = ["status", "is_test"]
    search_fields = ["=id", "to", "account__name"]
    fields = [
        "id",
        "account",
        "created_by",
        "is_test",
        "to",
        "status",
        "wrong_attempts",
        "message_id",
        "created_at",
        "expires_at",
        "approved_at",
    ]
    readonly_fields = fields
    list_select_related = ["account"]
    show_full_result_count = False


@admin.register(VerifySettings)
class VerifySettingsAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["account", "template", "updated_at"]
    search_fields = ["account__name"]
    fields = readonly_fields = ["account", "template", "updated_at"]
