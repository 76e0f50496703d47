from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from core.commands import refusal_as_error
from core.text import points_label
from messaging.services import ledger_topup


class Command(BaseCommand):
    help = "Add points to the account of the user with this email (a ledger top-up)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--points", required=True)
        parser.add_argument("--note", default="Top-up (management command)")

    def handle(self, *args, **options):
        points = options["points"]
        user = User.objects.select_related("membership__account").filter(email=options["email"].strip().lower()).first()
        if user is None or not hasattr(user, "membership"):
            raise CommandError("No account user with that email.")
        with refusal_as_error():
            entry = ledger_topup(account_id=user.membership.account_id, points=points, note=options["note"])
        self.stdout.write(
            f"Topped up account {entry.account_id} by {points_label(entry.amount)}; "
            f"balance {points_label(entry.balance_after)}."
        )
