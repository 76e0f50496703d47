from django import forms

from core.forms import day_field
from inbound.models import InboundSettings


class InboxFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100, help_text="Words of the text, or a number.")
    to = forms.ChoiceField(label="Sent to", required=False, choices=[])
    since = day_field("Since")
    until = day_field("Until")

    def __init__(self, *args, numbers: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [("", "Any of your numbers"), *((n, n) for n in numbers)]


class ReplyForm(forms.Form):
    text = forms.CharField(
        label="Reply", strip=False, widget=forms.Textarea(attrs={"rows": 3, "data-segment-counter": "1"})
    )


class ReplySettingsForm(forms.Form):
    confirmation_reply = forms.BooleanField(
        label="Answer STOP and START with a confirmation SMS (free, from the number they texted)", required=False
    )
    opt_out_reply = forms.CharField(
        label="Reply to STOP", max_length=300, required=False, initial=InboundSettings.DEFAULT_OPT_OUT_REPLY
    )
    opt_in_reply = forms.CharField(
        label="Reply to START", max_length=300, required=False, initial=InboundSettings.DEFAULT_OPT_IN_REPLY
    )
