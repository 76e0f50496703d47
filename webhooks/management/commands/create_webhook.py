from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from core.commands import refusal_as_error
from webhooks.services import endpoint_create


class Command(BaseCommand):
    help = "Create a webhook endpoint for the account of the user with this e-mail; prints the secret on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--url", required=True)
        parser.add_argument(
            "--events", required=True, help='Space-separated, e.g. "message.delivered message.received"'
        )

    def handle(self, *args, **options):
        user = User.objects.select_related("membership").filter(email=options["email"].lower()).first()
        if user is None or getattr(user, "membership", None) is None:
            raise CommandError("No user of an account with that e-mail.")
        with refusal_as_error():
            new = endpoint_create(
                account_id=user.membership.account_id, url=options["url"], events=options["events"].split()
            )
        endpoint = new.endpoint
        self.stdout.write(
            f"Created webhook endpoint {endpoint.pk} for {endpoint} with events {' '.join(endpoint.events)}. "
            "The signing secret is shown once:"
        )
        self.stdout.write(new.secret)
