from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.db import transaction

from accounts.models import Account, AuditEvent, IPAllowlistEntry, KnownDevice, Membership, SMSDevice, User
from core import localcache


def _account_of(obj) -> Account | None:
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
        from accounts.services import audit_record

        # An account suspended, a permission taken, a key disabled: the API's per-process copy of
        # the keys' rows (core.localcache) must not let this worker admit the old state.
        transaction.on_commit(localcache.clear)

        audit_record(
            action=action,
            account=_account_of(obj),
            actor=request.user,
            request=request,
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


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class StaffSetPasswordForm(AdminPasswordChangeForm):
    """A password staff set goes through the same service as the user's own change: the policy,
    the history, the password's age restarted, the user's sessions ended. (Django's form alone
    kept no history and left a user confined by an expired password confined.)"""

    def save(self, commit=True):
        if not self.cleaned_data.get("set_usable_password", True):
            return super().save(commit=commit)  # password sign-in switched off for this user
        from accounts.services import password_set

        password_set(user=self.user, new_password=self.cleaned_data["password1"], request=None, reason="staff")
        return self.user


class MembershipInline(admin.StackedInline):
    model = Membership
    extra = 0
    can_delete = False
    fk_name = "user"


@admin.register(User)
class UserAdmin(StaffAuditMixin, DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    change_password_form = StaffSetPasswordForm
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

    def save_model(self, request, obj, form, change):
        deactivated = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivated:
            from accounts.services import user_deactivate

            user_deactivate(user=obj, actor=request.user, request=request)

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


class ChangedFieldsOnlyMixin:
    """Saves only what the form changed: a balance or monthly spend read at the start of the
    request must never overwrite what the ledger services wrote meanwhile (under their locks)."""

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=[name for name in form.changed_data if name in {f.name for f in obj._meta.fields}])
        else:
            obj.save()

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            deleted.delete()
        for inline_form in formset.forms:
            instance = inline_form.instance
            if instance not in instances:
                continue
            if instance.pk and not inline_form.has_changed():
                continue
            if instance._state.adding:
                instance.save()
            else:
                fields = {f.name for f in instance._meta.fields}
                instance.save(update_fields=[name for name in inline_form.changed_data if name in fields])
        formset.save_m2m()
        self._after_formset(request, form, formset)

    def _after_formset(self, request, form, formset) -> None:
        pass


@admin.register(Account)
class AccountAdmin(StaffAuditMixin, ChangedFieldsOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "status", "balance", "require_2fa", "created_at"]
    list_filter = ["status", "require_2fa"]
    search_fields = ["name", "memberships__user__email"]
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


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is evidence."""

    list_display = ["created_at", "action", "account", "actor", "actor_token", "ip", "object_repr"]
    list_filter = ["action"]
    search_fields = ["action", "actor__email", "account__name", "ip", "object_id"]
    date_hierarchy = "created_at"
    list_select_related = ["account", "actor"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class IPAllowlistEntryForm(forms.ModelForm):
    class Meta:
        model = IPAllowlistEntry
        fields = ["scope", "network", "note"]

    def clean_network(self):
        from accounts.services import parse_allowlist

        entries, errors = parse_allowlist(self.cleaned_data["network"])
        if errors or len(entries) != 1:
            raise forms.ValidationError(errors[0].split(": ", 1)[-1] if errors else "One address or CIDR range.")
        return entries[0][0]


class IPAllowlistInline(admin.TabularInline):
    model = IPAllowlistEntry
    form = IPAllowlistEntryForm
    extra = 0
    fields = ["scope", "network", "note", "created_at"]
    readonly_fields = ["created_at"]


def _forget_allowlists(account_id: int) -> None:
    from django.db import transaction

    from accounts.services import ip_allowlist_changed

    for scope in IPAllowlistEntry.Scope.values:  # now and after the commit, as ip_allowlist_replace
        ip_allowlist_changed(account_id, scope)
        transaction.on_commit(lambda scope=scope: ip_allowlist_changed(account_id, scope))


def _account_after_formset(self, request, form, formset) -> None:
    if formset.model is IPAllowlistEntry and form.instance.pk:
        _forget_allowlists(form.instance.pk)


AccountAdmin._after_formset = _account_after_formset
AccountAdmin.inlines = [AccountMembershipInline, IPAllowlistInline]


@admin.register(SMSDevice)
class SMSDeviceAdmin(StaffAuditMixin, admin.ModelAdmin):
    """Staff can see and remove a user's SMS device (e.g. a lost phone); codes are never shown."""

    list_display = ["user", "phone", "confirmed", "created_at", "last_used_at"]
    search_fields = ["user__email", "phone"]
    list_select_related = ["user"]
    fields = ["user", "name", "phone", "confirmed"]
    readonly_fields = ["user"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(KnownDevice)
class KnownDeviceAdmin(StaffAuditMixin, admin.ModelAdmin):
    list_display = ["user", "user_agent", "ip", "first_seen", "last_seen"]
    search_fields = ["user__email", "ip"]
    list_select_related = ["user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# django-otp's authenticator-app devices: staff may remove one (a lost phone), audited like the rest.
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as OTPTOTPDeviceAdmin  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(StaffAuditMixin, OTPTOTPDeviceAdmin):
    pass
