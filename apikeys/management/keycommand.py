"""What `create_api_token` and `create_api_credential` share: the same options, the key made by
the service the portal page calls, for the user with the e-mail given."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from core.commands import refusal_as_error


class KeyCommand(BaseCommand):
    kind = ""  # "token" or "credential"
    scopes_example = ""  # for --scopes' help
    service = None  # staticmethod(token_create) or staticmethod(credential_create): returns a NewSecret

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--scopes", required=True, help=f'Space-separated, e.g. "{self.scopes_example}"')
        parser.add_argument("--name", default=f"Command-line {self.kind}")
        self.add_kind_arguments(parser)
        parser.add_argument("--test", action="store_true", help=f"A test-mode {self.kind} (never sends, never charges)")

    def add_kind_arguments(self, parser) -> None:
        """The options of one kind only (listed before --test)."""

    def kind_fields(self, options: dict) -> dict:
        """The service's arguments made from those options."""
        return {}

    def report(self, created) -> None:
        """What was made; the secret alone on the last line."""
        raise NotImplementedError

    def handle(self, *args, **options):
        user = User.objects.select_related("membership__account").filter(email=options["email"].lower()).first()
        if user is None:
            raise CommandError("No user with that e-mail.")
        fields = self.kind_fields(options)
        with refusal_as_error():
            created = self.service(
                user=user, name=options["name"], scopes=options["scopes"].split(), is_test=options["test"], **fields
            )
        self.report(created)
