from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from apikeys.services import credential_create
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an API credential (key id + secret); prints `KEY_ID SECRET` on the last line (once)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--scopes", required=True, help='Space-separated, e.g. "messages:send balance:read"')
        parser.add_argument("--name", default="Command-line credential")
        parser.add_argument("--test", action="store_true", help="A test-mode credential (never sends, never charges)")

    def handle(self, *args, **options):
        user = User.objects.select_related("membership__account").filter(email=options["email"].lower()).first()
        if user is None:
            raise CommandError("No user with that e-mail.")
        try:
            created = credential_create(
                user=user, name=options["name"], scopes=options["scopes"].split(), is_test=options["test"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        credential = created.obj
        self.stdout.write(
            f"Created {'test' if credential.is_test else 'live'} API credential {credential.name!r} with scopes "
            f"{' '.join(credential.scopes)}. Key id and secret (shown once):"
        )
        self.stdout.write(f"{credential.key_id} {created.secret}")
