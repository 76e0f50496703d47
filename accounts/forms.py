from django import forms

from core.phone import country_choices


class AccountSettingsForm(forms.Form):
    default_country = forms.ChoiceField(
        label="Default country",
        required=False,
        help_text=(
            "Numbers typed without a country code (07400 123456) on the send page, in contacts and in CSV "
            "imports are read as numbers of this country. The API always takes international (E.164) numbers."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_country"].choices = [("", "None: international numbers only"), *country_choices()]
