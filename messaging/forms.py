from django import forms
from django.utils import timezone
from django.utils.text import normalize_newlines

from core.forms import day_field
from core.phone import country_names, split_numbers
from messaging.models import LedgerEntry, Message
from messaging.selectors import SenderNames


class SendForm(forms.Form):
    recipients = forms.CharField(
        label="Recipients",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "placeholder": "+447400123456, +48500100200"}),
        help_text="Numbers in international format, separated by commas, spaces or new lines. Up to 10,000.",
        required=False,
    )
    groups = forms.TypedMultipleChoiceField(
        label="Send to contact groups", required=False, coerce=int, choices=[], widget=forms.CheckboxSelectMultiple
    )
    sender = forms.ChoiceField(label="Sender", required=False, choices=[])
    text = forms.CharField(
        label="Message",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "data-segment-counter": "1"}),
    )
    scheduled_at = forms.DateTimeField(
        label="Send later",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text="Leave empty to send now. At most 30 days ahead.",
    )

    def __init__(self, *args, senders: SenderNames, groups: list | None = None, region: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.region = region  # the account's default country: national numbers are read in it
        if region:
            country = country_names().get(region, region)
            self.fields["recipients"].help_text = (
                f"Numbers in international format or national numbers of {country}, separated by commas, spaces "
                "or new lines. Up to 10,000."
            )
        default = f"Default ({senders.default})" if senders.default else "None: no sender name of yours is approved"
        self.fields["sender"].choices = [("", default), *((name, name) for name in senders.names)]
        zone = timezone.get_current_timezone_name()
        self.fields["scheduled_at"].help_text = f"Leave empty to send now. At most 30 days ahead. In {zone} time."
        # (id, label) of the contact groups the user may send to; none: the field is not shown.
        self.fields["groups"].choices = groups or []
        if not groups:
            del self.fields["groups"]

    def clean_recipients(self) -> list[str]:
        return split_numbers(self.cleaned_data["recipients"], self.region)

    def clean(self):
        data = super().clean()
        if "recipients" in data and not data["recipients"] and not data.get("groups"):
            self.add_error(
                "recipients",
                "Enter at least one number." if "groups" not in self.fields else "Enter a number or choose a group.",
            )
        return data

    def clean_text(self) -> str:
        # Browsers post a textarea's line breaks as CR LF; the live counter (static/js/segments.js)
        # reads them as LF, one character each, and so are they counted and sent.
        return normalize_newlines(self.cleaned_data["text"])

    def clean_scheduled_at(self):
        value = self.cleaned_data.get("scheduled_at")
        if value is None:
            return None
        # The time is read in the active zone: the user's (core.timezones.UserTimeZoneMiddleware).
        return timezone.make_aware(value) if timezone.is_naive(value) else value


class MessageFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Message.Status.choices])
    recipient = forms.CharField(required=False, max_length=32, label="Recipient")
    batch = forms.UUIDField(required=False, label="Batch")
    since = day_field("Since")
    until = day_field("Until")


class SenderNameForm(forms.Form):
    name = forms.CharField(
        label="Sender name",
        max_length=16,
        help_text="Up to 11 letters and digits, or a phone number in international format.",
    )
    note = forms.CharField(label="What is it for?", max_length=200, required=False)


# --- Billing ------------------------------------------------------------------------------------


class MonthField(forms.DateField):
    """A calendar month (the browser's month picker, `2026-05`): its first day."""

    widget = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")
    input_formats = ["%Y-%m"]

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "UTC month")
        super().__init__(input_formats=self.input_formats, **kwargs)

    def clean(self, value):
        month = super().clean(value)
        # The month's end is the next month's start: December 9999 has none Python can hold.
        if month is not None and not 1970 <= month.year <= 9998:
            raise forms.ValidationError("Choose a month between 1970 and 9998.", code="out_of_range")
        return month


class LedgerFilterForm(forms.Form):
    month = MonthField(required=False, label="Month")
    kind = forms.ChoiceField(required=False, label="Kind", choices=[("", "Any kind"), *LedgerEntry.Kind.choices])


class StatementForm(forms.Form):
    month = MonthField(label="Month")


class LowBalanceForm(forms.Form):
    threshold = forms.DecimalField(
        label="Warn me when the balance falls below (points)",
        required=False,
        min_value=0,
        max_digits=16,
        decimal_places=4,
        help_text="The owner gets one e-mail each time the balance crosses it. Empty: no warning.",
    )
