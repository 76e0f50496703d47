"""Portal security in the admin: allowlists on the account page, second factors, known browsers."""

from django import forms
from django.contrib import admin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as OTPTOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.admin import AccountAdmin, AccountMembershipInline, UserAdmin
from accounts.models import Account, User
from audit.admin import StaffAuditMixin
from core.admin import ReadOnlyAdminMixin
from security.models import IPAllowlistEntry, KnownDevice, SMSDevice


class IPAllowlistEntryForm(forms.ModelForm):
    class Meta:
        model = IPAllowlistEntry
        fields = ["scope", "network", "note"]

    def clean_network(self):
        from security.services import parse_allowlist

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

    from security.services import ip_allowlist_changed

    for scope in IPAllowlistEntry.Scope.values:  # now and after the commit, as ip_allowlist_replace
        ip_allowlist_changed(account_id, scope)
        transaction.on_commit(lambda scope=scope: ip_allowlist_changed(account_id, scope))


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
class KnownDeviceAdmin(StaffAuditMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    deletable = True  # "forget" a browser
    list_display = ["user", "user_agent", "ip", "first_seen", "last_seen"]
    search_fields = ["user__email", "ip"]
    list_select_related = ["user"]


# django-otp's authenticator-app devices: staff may remove one (a lost phone), audited like the rest.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(StaffAuditMixin, OTPTOTPDeviceAdmin):
    pass


# The people and accounts of accounts.admin, with what security adds to their pages: a password
# staff set goes through the policy, and the account page edits its IP allowlists.


class StaffSetPasswordForm(AdminPasswordChangeForm):
    """A password staff set goes through the same service as the user's own change: the policy,
    the history, the password's age restarted, the user's sessions ended. (Django's form alone
    kept no history and left a user confined by an expired password confined.)"""

    def save(self, commit=True):
        if not self.cleaned_data.get("set_usable_password", True):
            return super().save(commit=commit)  # password sign-in switched off for this user
        from security.services import password_set

        password_set(user=self.user, new_password=self.cleaned_data["password1"], reason="staff")
        return self.user


class SecureUserAdmin(UserAdmin):
    # (Deactivating a user here goes through members' one deactivation service: members/admin.py.)
    change_password_form = StaffSetPasswordForm


class SecureAccountAdmin(AccountAdmin):
    inlines = [AccountMembershipInline, IPAllowlistInline]

    def _after_formset(self, request, form, formset) -> None:
        if formset.model is IPAllowlistEntry and form.instance.pk:
            _forget_allowlists(form.instance.pk)


for model, model_admin in ((User, SecureUserAdmin), (Account, SecureAccountAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
