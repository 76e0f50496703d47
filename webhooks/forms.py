from django import forms

from webhooks.models import EVENTS


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="Where we POST the events: an https:// address that resolves to public addresses only.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/sms", "autocomplete": "off"}),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(name, f"{name}: {label}") for name, label in EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
