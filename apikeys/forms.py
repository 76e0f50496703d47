from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from apikeys.models import SCOPES

MODE_CHOICES = [
    ("live", "Live: sends real messages and spends credit"),
    ("test", "Test: checked and priced like live, never sent, never charged"),
]


def _tomorrow() -> date:
    return timezone.now().astimezone(UTC).date() + timedelta(days=1)


class _KeyForm(forms.Form):
    """Name, scopes and mode, shared by tokens and credentials. The scope choices are only those
    the creator holds; the service checks again when it writes."""

    name = forms.CharField(label="Name", max_length=100, help_text="So you can tell your keys apart.")
    scopes = forms.MultipleChoiceField(
        label="Scopes", choices=[], widget=forms.CheckboxSelectMultiple, error_messages={"required": "Choose a scope."}
    )
    mode = forms.ChoiceField(label="Mode", choices=MODE_CHOICES, initial="live", widget=forms.RadioSelect)

    def __init__(self, *args, scopes: set[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [
            (scope, f"{scope}: {text}") for scope, text in SCOPES.items() if scope in scopes
        ]

    @property
    def is_test(self) -> bool:
        return self.cleaned_data["mode"] == "test"


class TokenCreateForm(_KeyForm):
    expires_at = forms.DateField(
        label="Expiry date (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The token stops working at 00:00 UTC on this date. Leave empty for no expiry.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expires_at"].widget.attrs["min"] = _tomorrow().isoformat()

    def clean_expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_at")
        if day is None:
            return None
        if day < _tomorrow():
            raise forms.ValidationError("Choose a date after today.")
        return datetime.combine(day, time.min, tzinfo=UTC)


class CredentialCreateForm(_KeyForm):
    pass
