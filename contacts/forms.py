import csv
import io

from django import forms

from contacts.services import IMPORT_MAX_ROWS
from core.phone import country_names

IMPORT_MAX_BYTES = 2 * 1024 * 1024


class ContactForm(forms.Form):
    phone = forms.CharField(
        label="Phone", max_length=32, help_text="International format, e.g. +447400123456.", strip=True
    )
    name = forms.CharField(label="Name", max_length=100, required=False)
    groups = forms.TypedMultipleChoiceField(
        label="Groups", required=False, coerce=int, choices=[], widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, groups: list, region: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].choices = [(g.pk, g.name) for g in groups]
        if region:
            name = country_names().get(region, region)
            self.fields["phone"].help_text = f"International format (+447400123456), or a national number of {name}."


class GroupForm(forms.Form):
    name = forms.CharField(label="Group name", max_length=100)


class ContactFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100, help_text="Part of a name or a number.")
    group = forms.TypedChoiceField(label="Group", required=False, coerce=int, empty_value=None, choices=[])

    def __init__(self, *args, groups: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", "All contacts"), *((g.pk, g.name) for g in groups)]


class CsvUploadForm(forms.Form):
    """An uploaded CSV file read into rows (contacts, opt-outs); `help_text` says what it holds."""

    file = forms.FileField(label="CSV file")
    help_text = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = self.help_text

    def clean_file(self) -> list[tuple[int, list[str]]]:
        """The file's rows as (line number, cells), the header left out. Anything that is not a
        CSV text file is a form error, never a 500."""
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB.")
        raw = upload.read(IMPORT_MAX_BYTES + 1)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.") from None
        if "\x00" in text:
            raise forms.ValidationError("The file is not a CSV text file.")
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        rows = []
        try:
            reader = csv.reader(io.StringIO(text), dialect)
            for cells in reader:
                rows.append((reader.line_num, cells))
                if len(rows) > IMPORT_MAX_ROWS + 1:
                    raise forms.ValidationError(f"The file has more than {IMPORT_MAX_ROWS:,} rows.")
        except csv.Error as exc:
            raise forms.ValidationError(f"The file is not valid CSV: {exc}.") from None
        if rows and rows[0][1] and rows[0][1][0].strip().lower() in ("phone", "number", "phone number", "mobile"):
            rows = rows[1:]
        if not rows:
            raise forms.ValidationError("The file has no rows.")
        if len(rows) > IMPORT_MAX_ROWS:
            raise forms.ValidationError(f"The file has more than {IMPORT_MAX_ROWS:,} rows.")
        return rows


class ImportForm(CsvUploadForm):
    help_text = "Columns: phone, name, groups (names separated by ; ). A header row is optional. " + (
        f"Up to {IMPORT_MAX_ROWS:,} rows and {IMPORT_MAX_BYTES // (1024 * 1024)} MB."
    )


class OptOutImportForm(CsvUploadForm):
    help_text = (
        f"One number per row in the first column (an export of this list works as it is). A header row is "
        f"optional. Up to {IMPORT_MAX_ROWS:,} rows and {IMPORT_MAX_BYTES // (1024 * 1024)} MB."
    )


class OptOutForm(forms.Form):
    phone = forms.CharField(
        label="Phone", max_length=32, help_text="International format, e.g. +447400123456.", strip=True
    )


class OptOutFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100, help_text="Part of a number.")
