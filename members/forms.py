"""Forms of the Users pages."""

from django import forms

from core.text import points_amount
from core.timezones import zone_choices

WEEKDAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]


def _permission_field(grantable: list[str]) -> forms.MultipleChoiceField:
    from members.selectors import PERMISSION_LABELS

    return forms.MultipleChoiceField(
        label="Permissions",
        required=False,
        choices=[(name, PERMISSION_LABELS[name][0]) for name in grantable],
        widget=forms.CheckboxSelectMultiple,
    )


def _limit_field(own_limit) -> forms.DecimalField:
    help_text = "Points this user may spend per calendar month (UTC). Leave empty for no limit."
    if own_limit is not None:
        help_text = (
            f"Points this user may spend per calendar month (UTC); at most {points_amount(own_limit)}, your own limit."
        )
    return forms.DecimalField(
        label="Monthly limit (points)",
        required=False,
        min_value=0,
        max_digits=16,
        decimal_places=4,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
    )


class SubuserInviteForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, grantable: list[str], own_limit=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permissions"] = _permission_field(grantable)
        self.fields["monthly_limit"] = _limit_field(own_limit)
        if not self.is_bound:
            self.initial.setdefault("permissions", [p for p in ("send_sms", "view_messages") if p in grantable])

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class SubuserEditForm(forms.Form):
    window_weekdays = forms.TypedMultipleChoiceField(
        label="Days",
        required=False,
        coerce=int,
        choices=WEEKDAYS,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked = every day.",
    )
    window_start = forms.TimeField(
        label="From", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    window_end = forms.TimeField(
        label="To",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Empty times = all day. A window may run overnight (22:00 to 06:00).",
    )
    window_timezone = forms.ChoiceField(label="Time zone", choices=[])

    def __init__(self, *args, grantable: list[str], own_limit=None, senders: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permissions"] = _permission_field(grantable)
        self.fields["monthly_limit"] = _limit_field(own_limit)
        self.fields["window_timezone"].choices = zone_choices(self.initial.get("window_timezone"))
        self.fields["allowed_senders"] = forms.TypedMultipleChoiceField(
            label="Allowed sender names",
            required=False,
            coerce=int,
            choices=senders,
            widget=forms.CheckboxSelectMultiple,
            help_text="None ticked = all the account's approved sender names.",
        )
        # Permissions first, as on the invitation form.
        order = ["permissions", "monthly_limit", "window_weekdays", "window_start", "window_end", "window_timezone"]
        self.order_fields([*order, "allowed_senders"])


class InvitationAcceptForm(forms.Form):
    new_password1 = forms.CharField(
        label="Password",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
        help_text="8 to 128 characters, with a capital letter and a digit; not a common password, not like your "
        "e-mail.",
    )
    new_password2 = forms.CharField(
        label="Password again",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", "The two passwords do not match.")
        return data
