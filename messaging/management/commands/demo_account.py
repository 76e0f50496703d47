import secrets
from decimal import Decimal

from django.core.management.base import BaseCommand

from accounts.models import User
from messaging.services import account_open

DEMO_EMAIL = "demo@example.com"
DEMO_PHONE = "+447700900123"  # Ofcom's range for drama: never a real subscriber


class Command(BaseCommand):
    help = "Create the demo account of a local run, once; prints how to sign in."

    def handle(self, *args, **options):
        if User.objects.filter(email=DEMO_EMAIL).exists():
            self.stdout.write(
                f"Demo account: sign in as {DEMO_EMAIL} with the password printed when it was created "
                f"(forgot it? python manage.py changepassword {DEMO_EMAIL})."
            )
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
            f"  password: {password}"
        )
