from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from core.commands import refusal_as_error
from core.text import points_label
from messaging.services import account_open


class Command(BaseCommand):
    help = "Create a customer account with its owner (the password is checked against the policy)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--phone", default="", help="The owner's mobile number, E.164.")
        parser.add_argument("--credit", default="0", help="Opening credit in points (a ledger top-up).")

    def handle(self, *args, **options):
        try:
            credit = Decimal(options["credit"])
        except InvalidOperation as exc:
            raise CommandError("--credit must be a number") from exc
        with refusal_as_error():
            account = account_open(
                name=options["name"] or options["email"],
                owner_email=options["email"],
                owner_password=options["password"],
                owner_phone=options["phone"],
                credit=credit,
            )
        self.stdout.write(
            f"Created account {account.pk} ({account.name}) with owner {options['email'].lower()}, "
            f"balance {points_label(account.balance)}."
        )
