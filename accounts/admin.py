from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts.models import Account, Membership, User
from audit.admin import StaffAuditMixin
from core.admin import ChangedFieldsOnlyMixin
from core.errors import ApplicationError
from core.phone import normalize_phone


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_phone(self) -> str:
        """The one phone rule (core/phone.py), stored as E.164: the user's test SMS goes there."""
        phone = self.cleaned_data["phone"].strip()
        try:
            return normalize_phone(phone) if phone else ""
        except ApplicationError as exc:
            raise forms.ValidationError(exc.detail) from exc


class MembershipInline(admin.StackedInline):
    model = Membership
    extra = 0
    can_delete = False
    fk_name = "user"


@admin.register(User)
class UserAdmin(StaffAuditMixin, DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    inlines = [MembershipInline]
    ordering = ["email"]
    list_display = ["email", "full_name", "account_name", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "membership__role"]
    search_fields = ["email", "full_name", "phone"]
    readonly_fields = ["last_login", "date_joined", "password_changed_at"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["full_name", "phone"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined", "password_changed_at"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    @admin.display(description="Account", ordering="membership__account__name")
    def account_name(self, obj: User) -> str:
        membership = getattr(obj, "membership", None)
        return membership.account.name if membership else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("membership__account")


class AccountMembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "monthly_limit", "monthly_spent"]
    readonly_fields = ["user", "monthly_spent"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(StaffAuditMixin, ChangedFieldsOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "status", "balance", "require_2fa", "created_at"]
    list_filter = ["status", "require_2fa"]
    search_fields = ["name", "memberships__user__email"]
    ordering = ["name", "id"]  # the admin list and the account pickers (autocomplete) page stably
    readonly_fields = ["balance", "created_at", "updated_at"]
    inlines = [AccountMembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "status", "balance"]}),
        (
            "Security policy",
            {
                "fields": [
                    "require_2fa",
                    "password_max_age_days",
                    "password_age_mode",
                    "session_timeout_minutes",
                    "session_timeout_max_minutes",
                ]
            },
        ),
        (
            "Traffic",
            {
                "fields": [
                    "traffic_alert_per_hour",
                    "traffic_cap_per_hour",
                    "api_rate_limit_per_minute",
                    "api_token_rate_limit_per_minute",
                ]
            },
        ),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]


@admin.register(Membership)
class MembershipAdmin(StaffAuditMixin, ChangedFieldsOnlyMixin, admin.ModelAdmin):
    list_display = ["user", "account", "role", "monthly_limit", "monthly_spent"]
    list_filter = ["role"]
    search_fields = ["user__email", "account__name"]
    list_select_related = ["user", "account"]
    raw_id_fields = ["user", "account"]
    readonly_fields = ["monthly_spent", "spent_month"]


# django-otp's authenticator-app devices: staff may remove one (a lost phone), audited like the rest.
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
