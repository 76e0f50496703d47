"""Price rules name their country as parse_recipient answers it: an ISO 3166 code in capitals
that phone numbers are recognised in (a validator now refuses anything else).

Existing rules written in lower case ("gb") never matched a message; they are upper-cased, so
they apply from now on. Where the upper-case rule exists too, it is the one that has priced
every message so far, and the lower-case one (which never applied) is deleted rather than left
to collide with it. Codes that are no region at all ("UK") are left as they are, for staff to
correct: the admin now shows them as errors when the rule is next edited.
"""

from django.db import migrations, models

import messaging.models


def upper_case_countries(apps, schema_editor):
    PriceRule = apps.get_model("messaging", "PriceRule")
    taken = set(PriceRule.objects.values_list("country", flat=True))
    for rule in PriceRule.objects.all():
        normalized = rule.country.strip().upper()
        if normalized == rule.country:
            continue
        if normalized in taken:
            rule.delete()
            continue
        taken.discard(rule.country)
        taken.add(normalized)
        PriceRule.objects.filter(pk=rule.pk).update(country=normalized)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0005_message_account_no_single_index")]

    operations = [
        migrations.RunPython(upper_case_countries, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="pricerule",
            name="country",
            field=models.CharField(
                blank=True,
                help_text="ISO code, e.g. GB (not UK); empty = every other country.",
                max_length=2,
                validators=[messaging.models.validate_price_country],
            ),
        ),
    ]
