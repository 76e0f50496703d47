from django import forms
from django.contrib import admin, messages

from messaging.models import LedgerEntry, Message
from messaging.services import ledger_adjust, ledger_topup
from portal.exceptions import ApplicationError


class LedgerEntryForm(forms.ModelForm):
    kind = forms.ChoiceField(
        choices=[(LedgerEntry.Kind.TOPUP, "Top-up"), (LedgerEntry.Kind.ADJUSTMENT, "Adjustment (signed)")]
    )

    class Meta:
        model = LedgerEntry
        fields = ["account", "kind", "amount", "note"]

    def clean(self):
        # The service checks again under the row lock; this catches the common mistakes as form errors.
        data = super().clean()
        kind, amount, account = data.get("kind"), data.get("amount"), data.get("account")
        if amount is None or account is None:
            return data
        if kind == LedgerEntry.Kind.TOPUP and amount <= 0:
            self.add_error("amount", "A top-up must be positive.")
        if kind == LedgerEntry.Kind.ADJUSTMENT:
            if amount == 0:
                self.add_error("amount", "An adjustment must not be zero.")
            if not (data.get("note") or "").strip():
                self.add_error("note", "Say why in the note.")
            if account.balance + amount < 0:
                self.add_error("amount", f"The balance is {account.balance}; it cannot go below zero.")
        return data


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Staff add credit here; the entry goes through the ledger service (row lock, balance update)."""

    form = LedgerEntryForm
    list_display = ["created_at", "account", "kind", "amount", "balance_after", "note", "created_by"]
    list_filter = ["kind"]
    search_fields = ["account__name", "note"]
    list_select_related = ["account", "created_by"]
    raw_id_fields = ["account"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return [f.name for f in LedgerEntry._meta.fields]
        return []

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        service = ledger_topup if data["kind"] == LedgerEntry.Kind.TOPUP else ledger_adjust
        try:
            entry = service(account_id=data["account"].pk, points=data["amount"], note=data["note"], actor=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.detail, level=messages.ERROR)
            return
        obj.pk = entry.pk


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "account", "recipient", "sender", "status", "segments", "cost"]
    list_filter = ["status", "is_system", "encoding"]
    search_fields = ["=id", "recipient", "provider_id", "reference", "account__name"]
    list_select_related = ["account"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
