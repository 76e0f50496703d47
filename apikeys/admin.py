"""Staff's view of the customers' API keys: see them, set a key's own rate limit, disable a
leaked one (its access tokens end with it), delete one. The secret's digest is never shown, and
keys are made by customers (or `create_api_token`), not here."""

from django.contrib import admin

from apikeys.models import ApiCredential, ApiToken
from apikeys.services import access_tokens_revoke_all
from audit.admin import StaffAuditMixin
from core.admin import ChangedFieldsOnlyMixin


class ApiKeyAdmin(StaffAuditMixin, ChangedFieldsOnlyMixin, admin.ModelAdmin):
    list_filter = ["disabled", "is_test"]
    list_select_related = ["account", "created_by"]
    editable = ["name", "disabled", "rate_limit_per_minute"]

    def get_readonly_fields(self, request, obj=None):
        return [field for field in self.fields if field not in self.editable]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="State")
    def key_state(self, obj) -> str:
        return obj.state

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "disabled" in form.changed_data and obj.disabled:
            access_tokens_revoke_all(key=obj)


@admin.register(ApiToken)
class ApiTokenAdmin(ApiKeyAdmin):
    list_display = ["prefix", "name", "account", "created_by", "is_test", "key_state", "last_used_at"]
    search_fields = ["prefix", "name", "account__name", "created_by__email"]
    fields = [
        "account", "created_by", "name", "prefix", "scopes", "is_test", "expires_at", "disabled",
        "rate_limit_per_minute", "created_at", "last_used_at", "last_used_ip",
    ]  # fmt: skip


@admin.register(ApiCredential)
class ApiCredentialAdmin(ApiKeyAdmin):
    list_display = ["key_id", "name", "account", "created_by", "is_test", "key_state", "last_used_at"]
    search_fields = ["key_id", "name", "account__name", "created_by__email"]
    fields = [
        "account", "created_by", "name", "key_id", "scopes", "is_test", "disabled", "rate_limit_per_minute",
        "created_at", "secret_changed_at", "last_used_at", "last_used_ip",
    ]  # fmt: skip
