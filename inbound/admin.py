"""Staff: inbound numbers (assigned to an account through the audited service) and every SMS
received, read-only, those to unassigned numbers included (which no customer ever sees)."""

from django import forms
from django.contrib import admin

from audit.context import AuditContext
from core.admin import ReadOnlyAdminMixin
from inbound.models import InboundMessage, InboundNumber
from inbound.services import inbound_number_assign, inbound_number_normalize


class InboundNumberForm(forms.ModelForm):
    class Meta:
        model = InboundNumber
        fields = ["number", "account"]

    def clean_number(self) -> str:
        number = inbound_number_normalize(self.cleaned_data["number"])
        if number is None:
            raise forms.ValidationError(
                "A number in international format (+4930123456) or a short code of 3 to 8 digits."
            )
        return number


@admin.register(InboundNumber)
class InboundNumberAdmin(admin.ModelAdmin):
    form = InboundNumberForm
    list_display = ["number", "account", "assigned_at"]
    list_filter = [("account", admin.EmptyFieldListFilter)]
    search_fields = ["number", "account__name", "account__memberships__user__email"]
    autocomplete_fields = ["account"]
    readonly_fields = ["assigned_at", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # A number is what it is: to use another, add it.
        return [*self.readonly_fields, "number"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # The service assigns (or moves, or unassigns) and audits it in each account concerned.
        saved = inbound_number_assign(
            number=obj.number, account_id=obj.account_id, context=AuditContext.from_request(request)
        )
        obj.pk, obj.assigned_at, obj.created_at = saved.pk, saved.assigned_at, saved.created_at

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # unassign it instead: its SMS keep their number


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "sender", "recipient", "account", "short_text"]
    list_filter = [("account", admin.EmptyFieldListFilter), "received_at"]
    search_fields = ["sender", "recipient", "text", "account__name"]
    list_select_related = ["account"]
    date_hierarchy = "received_at"
    exclude = ["dedupe_key"]

    @admin.display(description="Text")
    def short_text(self, obj: InboundMessage) -> str:
        return obj.text if len(obj.text) <= 60 else obj.text[:59] + "…"
