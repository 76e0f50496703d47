from decimal import Decimal

from django.db import migrations

# Common URL shorteners: a link through one hides where it leads, the classic phishing SMS.
SHORTENERS = [
    "bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly",
    "cutt.ly", "shorturl.at", "rb.gy", "t.ly", "tiny.cc", "bl.ink", "short.io", "s.id", "v.gd", "qrco.de",
    "shorte.st", "adf.ly", "lnkd.in", "soo.gd", "clck.ru", "u.to", "x.co", "1url.com", "tr.im",
]


def seed(apps, schema_editor):
    BlockedDomain = apps.get_model("messaging", "BlockedDomain")
    PriceRule = apps.get_model("messaging", "PriceRule")
    for domain in SHORTENERS:
        BlockedDomain.objects.get_or_create(domain=domain, defaults={"note": "URL shortener"})
    PriceRule.objects.get_or_create(country="", defaults={"price_per_segment": Decimal("1")})


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
