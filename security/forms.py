"""Forms of the sign-in and security pages."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.contrib.sites.shortcuts import get_current_site

from accounts.models import Account
from audit.context import AuditContext
from audit.labels import action_label
from core.forms import day_field
from core.phone import EXAMPLE_MOBILE_SPACED
from core.text import counted
from core.timezones import zone_choices
from security.models import IPAllowlistEntry
from security.services.policy import POLICY_FIELDS


class SignInForm(AuthenticationForm):
    """Email + password. The error never says which of the two was wrong, nor whether the
    e-mail exists (Django's backend hashes a dummy password for unknown e-mails too)."""

    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    error_messages = {
        "invalid_login": "The email or password is not right. Check both and try again.",
        "inactive": "The email or password is not right. Check both and try again.",
    }

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class SignInCodeForm(CodeForm):
    method = forms.ChoiceField(choices=[("sms", "SMS"), ("totp", "Authenticator app"), ("backup", "Backup code")])


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label="Mobile number",
        max_length=32,
        help_text=f"International format, e.g. {EXAMPLE_MOBILE_SPACED}.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class EndOtherSessionsMixin(forms.Form):
    end_other_sessions = forms.BooleanField(
        label="Sign out my other sessions (recommended)", required=False, initial=True
    )


class EnrolCodeForm(EndOtherSessionsMixin, CodeForm):
    pass


class DisableTwoFactorForm(EndOtherSessionsMixin):
    pass


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label="Current password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password1 = forms.CharField(
        label="New password",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="8 to 128 characters, with a capital letter and a digit; not a common password, not like your "
        "e-mail, not one of your last 5.",
    )
    new_password2 = forms.CharField(
        label="New password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_old_password(self):
        from core.errors import ApplicationError
        from security.services import password_confirm

        value = self.cleaned_data["old_password"]
        try:
            right = password_confirm(user=self.user, password=value)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.detail) from exc
        if not right:
            raise forms.ValidationError("Your current password is not right.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", "The two new passwords do not match.")
        return data


class PolicySetPasswordForm(SetPasswordForm):
    """The reset form: Django's, with the save going through the password service."""

    def save(self, commit=True):
        from security.services import password_set

        request = getattr(self, "request", None)  # set by the view: the audit event gets its address
        password_set(
            user=self.user,
            new_password=self.cleaned_data["new_password1"],
            context=AuditContext.from_request(request),
            reason="reset",
        )
        return self.user


class ResetRequestForm(PasswordResetForm):
    """Django's form, with the e-mail queued for a Celery task instead of sent in the request:
    an answer that waits on the mail server only for a known address would tell which exist."""

    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def save(self, domain_override=None, use_https=False, request=None, **kwargs) -> None:
        from security.services import password_reset_request

        domain = domain_override or get_current_site(request).domain
        password_reset_request(email=self.cleaned_data["email"], domain=domain, use_https=use_https)


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label="Time zone", help_text="Pages show times in it. Exports stay in UTC.")

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, initial={"time_zone": current}, **kwargs)
        self.fields["time_zone"].choices = zone_choices(current)


class SessionTimeoutForm(forms.Form):
    minutes = forms.TypedChoiceField(label="Sign me out after", coerce=int, choices=[])

    def __init__(self, *args, choices: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["minutes"].choices = [(m, _minutes_label(m)) for m in choices]


def _minutes_label(minutes: int) -> str:
    if minutes < 60:
        return f"{counted(minutes, 'minute')} of inactivity"
    hours = minutes // 60
    return f"{counted(hours, 'hour')} of inactivity"


class AccountPolicyForm(forms.ModelForm):
    session_timeout_minutes = forms.TypedChoiceField(
        label="Default inactivity timeout",
        coerce=int,
        choices=[(m, _minutes_label(m)) for m in settings.SESSION_TIMEOUT_CHOICES],
    )
    session_timeout_max_minutes = forms.TypedChoiceField(
        label="Longest timeout a user may choose",
        coerce=int,
        choices=[(m, _minutes_label(m)) for m in settings.SESSION_TIMEOUT_CHOICES],
    )

    class Meta:
        model = Account
        fields = POLICY_FIELDS
        labels = {
            "require_2fa": "Require two-factor sign-in for every user",
            "password_max_age_days": "Password maximum age (days, 0 = never expires)",
            "password_age_mode": "When a password is too old",
        }

    def clean(self):
        data = super().clean()
        if data.get("session_timeout_minutes", 0) > data.get("session_timeout_max_minutes", 10**6):
            self.add_error("session_timeout_minutes", "The default cannot be longer than the maximum.")
        if data.get("password_max_age_days") is not None and data["password_max_age_days"] > 3650:
            self.add_error("password_max_age_days", "At most 3650 days.")
        return data


class IPAllowlistForm(forms.Form):
    scope = forms.ChoiceField(choices=IPAllowlistEntry.Scope.choices, widget=forms.HiddenInput)
    entries = forms.CharField(
        label="Allowed addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="One per line: an IPv4 or IPv6 address or CIDR range, optionally followed by a note. "
        "Empty = every address is allowed.",
    )
    confirm_self_lockout = forms.BooleanField(
        label="I understand that my current address is not in this list and I will be locked out.", required=False
    )


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False, choices=[])
    since = day_field("Since")
    until = day_field("Until")

    def __init__(self, *args, actions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [
            ("", "All events"),
            *sorted(((a, action_label(a)) for a in actions), key=lambda c: c[1]),
        ]
