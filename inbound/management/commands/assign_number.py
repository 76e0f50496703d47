from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from core.commands import refusal_as_error
from inbound.services import inbound_number_assign


class Command(BaseCommand):
    help = (
        "Assign an inbound number (E.164 or a short code) to the account of the user with this email; "
        "a number assigned elsewhere moves (audited in both accounts)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--number", required=True)

    def handle(self, *args, **options):
        user = User.objects.select_related("membership__account").filter(email=options["email"].strip().lower()).first()
        if user is None or not hasattr(user, "membership"):
            raise CommandError("No account user with that email.")
        account = user.membership.account
        with refusal_as_error():
            number = inbound_number_assign(number=options["number"], account_id=account.pk)
        self.stdout.write(f"Inbound number {number.number} is assigned to account {account.pk} ({account.name}).")
