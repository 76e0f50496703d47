import secrets
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from core.phone import EXAMPLE_MOBILE, parse_recipient
from messaging.services import account_open

DEMO_EMAIL = "demo@example.com"
DEMO_PHONE = EXAMPLE_MOBILE  # a number the product accepts that is never a real subscriber's


def where_sms_go() -> str:
    """Where a local run's SMS (the demo user's sign-in codes, test SMS) can be read."""
    backend = settings.SMS_BACKEND
    if backend == "console":
        return "SMS (sign-in codes, test SMS) are printed in this terminal by the worker, between '----- SMS' lines."
    if backend == "file":
        return f"SMS (sign-in codes, test SMS) are written to {settings.SMS_FILE_PATH}, one JSON object a line."
    return f"SMS (sign-in codes, test SMS) go to the '{backend}' SMS backend (SMS_BACKEND)."


class Command(BaseCommand):
    help = "Create the demo account of a local run, once; prints how to sign in and where its SMS go."

    def handle(self, *args, **options):
        existing = User.objects.filter(email=DEMO_EMAIL).first()
        if existing is not None:
            if existing.phone and parse_recipient(existing.phone) is None:
                # Demo accounts made before had a number of the UK's drama range, which the product refuses.
                User.objects.filter(pk=existing.pk).update(phone=DEMO_PHONE)
                self.stdout.write(f"The demo user's phone is now {DEMO_PHONE} (the earlier one was not valid).")
            self.stdout.write(
                f"Demo account: sign in as {DEMO_EMAIL} with the password printed when it was created "
                f"(forgot it? python manage.py changepassword {DEMO_EMAIL})."
            )
            self.stdout.write(where_sms_go())
            return
        # A fresh random password per installation: no shared default to guess.
        password = f"Demo-{secrets.token_urlsafe(12)}-{secrets.randbelow(90) + 10}"
        account_open(
            name="Demo Ltd",
            owner_email=DEMO_EMAIL,
            owner_password=password,
            owner_name="Demo Owner",
            owner_phone=DEMO_PHONE,
            credit=Decimal("100"),
        )
        self.stdout.write(
            "Created the demo account. Sign in at the address below as:\n"
            f"  email:    {DEMO_EMAIL}\n"
            f"  password: {password}\n"
            f"  phone:    {DEMO_PHONE} (for two-factor sign-in and the test SMS)"
        )
        self.stdout.write(where_sms_go())
