from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from core.admin import ReadOnlyAdminMixin
from core.errors import ApplicationError
from core.text import points_label
from messaging.models import BlockedDomain, LedgerEntry, Message, MessageEvent, PriceRule, SenderName, TrafficCounter
from messaging.services import ledger_adjust, ledger_topup, messages_review, sender_names_review
from messaging.services.ledger import _points


def _selected(queryset) -> list[int]:
    """The ids of the rows an admin action was run on."""
    return list(queryset.values_list("pk", flat=True))


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
        try:
            _points(amount)  # the service's own rule for an amount (too large, too precise)
        except ApplicationError as exc:
            self.add_error("amount", exc.detail)
            return data
        if kind == LedgerEntry.Kind.TOPUP and amount <= 0:
            self.add_error("amount", "A top-up must be positive.")
        if kind == LedgerEntry.Kind.ADJUSTMENT:
            if amount == 0:
                self.add_error("amount", "An adjustment must not be zero.")
            if not (data.get("note") or "").strip():
                self.add_error("note", "Say why in the note.")
            if account.balance + amount < 0:
                self.add_error("amount", f"The balance is {points_label(account.balance)}; it cannot go below zero.")
        return data


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Staff add credit here; the entry goes through the ledger service (row lock, balance update)."""

    form = LedgerEntryForm
    list_display = ["created_at", "account", "kind", "amount", "balance_after", "note", "created_by"]
    list_filter = ["kind"]
    search_fields = ["account__name", "note"]
    list_select_related = ["account", "created_by"]
    # Staff pick the account by its name or its owner's e-mail (AccountAdmin.search_fields).
    autocomplete_fields = ["account"]

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
        except ApplicationError as exc:  # refused under the lock (a send spent the credit meanwhile)
            self.message_user(request, exc.detail, level=messages.ERROR)
            return
        obj.pk = entry.pk

    def log_addition(self, request, obj, message):
        if obj.pk is None:  # refused: nothing was added
            return None
        return super().log_addition(request, obj, message)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:  # back to the form, with the service's reason shown, and no "added"
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)


class MessageEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = MessageEvent
    extra = 0
    readonly_fields = ["created_at", "status", "detail"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only and searchable; held messages are reviewed with the two actions."""

    list_display = ["id", "created_at", "account", "recipient", "sender", "status", "segments", "cost"]
    list_filter = ["status", "is_system", "encoding", "possible_duplicate"]
    search_fields = ["=id", "recipient", "provider_id", "reference", "account__name", "=batch_id"]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    inlines = [MessageEventInline]
    actions = ["release_held", "reject_held"]
    readonly_fields = [f.name for f in Message._meta.fields]

    @admin.action(description="Release selected held messages")
    def release_held(self, request, queryset):
        count = messages_review(message_ids=_selected(queryset), release=True, actor=request.user)
        self.message_user(request, f"Released {count} held message(s).")

    @admin.action(description="Reject selected held messages (refund)")
    def reject_held(self, request, queryset):
        count = messages_review(message_ids=_selected(queryset), release=False, actor=request.user)
        self.message_user(request, f"Rejected and refunded {count} held message(s).")


@admin.register(SenderName)
class SenderNameAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "status", "note", "created_at", "reviewed_at"]
    list_filter = ["status"]
    search_fields = ["name", "account__name"]
    list_select_related = ["account"]
    readonly_fields = ["status", "reviewed_at", "created_at"]
    raw_id_fields = ["account"]
    actions = ["approve", "reject"]

    @admin.action(description="Approve selected sender names")
    def approve(self, request, queryset):
        count = sender_names_review(sender_ids=_selected(queryset), approve=True, actor=request.user)
        self.message_user(request, f"Approved {count} sender name(s).")

    @admin.action(description="Reject selected sender names")
    def reject(self, request, queryset):
        count = sender_names_review(sender_ids=_selected(queryset), approve=False, actor=request.user)
        self.message_user(request, f"Rejected {count} sender name(s).")


@admin.register(PriceRule)
class PriceRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "country", "price_per_segment"]
    search_fields = ["country"]


@admin.register(BlockedDomain)
class BlockedDomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "note", "created_at"]
    search_fields = ["domain", "note"]

    def save_model(self, request, obj, form, change):
        from django.core.cache import cache

        obj.domain = obj.domain.strip().lower().lstrip("*.").rstrip(".")
        super().save_model(request, obj, form, change)
        cache.delete("messaging:blocked-domains")

    def delete_model(self, request, obj):
        from django.core.cache import cache

        super().delete_model(request, obj)
        cache.delete("messaging:blocked-domains")


@admin.register(TrafficCounter)
class TrafficCounterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["account", "hour", "count", "alerted"]
    list_select_related = ["account"]
    date_hierarchy = "hour"
    deletable = True
