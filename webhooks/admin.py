"""Staff see endpoints and their deliveries, read-only; secrets (encrypted) and URL queries never."""

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from webhooks.models import Attempt, Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "account", "enabled", "created_at", "disabled_reason"]
    list_filter = ["enabled"]
    search_fields = ["=id", "account__name"]
    list_select_related = ["account"]
    fields = ["id", "account", "address", "events", "enabled", "created_at", "disabled_at", "disabled_reason",
              "failing_since", "previous_secret_expires_at"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="URL (without its query)")
    def address(self, obj: Endpoint) -> str:
        return str(obj)


class AttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Attempt
    extra = 0
    readonly_fields = ["created_at", "status_code", "error", "latency_ms", "response_excerpt"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["webhook_id", "event_type", "endpoint", "status", "attempts", "created_at", "next_attempt_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["=webhook_id", "=object_id"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    # Not `data`: the resource a test or an opt-out carried (a test carries the endpoint's full URL).
    fields = readonly_fields = [f.name for f in Delivery._meta.fields if f.name != "data"]
