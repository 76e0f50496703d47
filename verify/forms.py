from django import forms

from verify.services import TEMPLATE_MAX_LENGTH


class TemplateForm(forms.Form):
    template = forms.CharField(
        label="Text of the verification SMS",
        max_length=TEMPLATE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Write {code} where the code goes, e.g. “Your ACME code is {code}”. "
        "An API request may send its own text instead.",
    )
