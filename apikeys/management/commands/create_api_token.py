from datetime import datetime, time

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apikeys.management.keycommand import KeyCommand
from apikeys.services import token_create


class Command(KeyCommand):
    help = "Create an API token for the user with this e-mail; prints the secret on the last line (once)."
    kind = "token"
    service = staticmethod(token_create)
    scopes_example = "messages:send messages:read"

    def add_kind_arguments(self, parser) -> None:
        parser.add_argument("--expires", default=None, help="Date (end of that day, UTC) or ISO date-time")

    def kind_fields(self, options: dict) -> dict:
        expires_at = None
        if options["expires"]:
            try:  # well-formed but impossible (month 13) raises rather than answering None
                expires_at = parse_datetime(options["expires"])
                day = parse_date(options["expires"]) if expires_at is None else None
            except ValueError:
                expires_at = day = None
            if expires_at is None:
                if day is None:
                    raise CommandError("--expires must be a date (YYYY-MM-DD) or an ISO date-time.")
                expires_at = datetime.combine(day, time.max)
            if timezone.is_naive(expires_at):
                expires_at = timezone.make_aware(expires_at, timezone.get_fixed_timezone(0))
        return {"expires_at": expires_at}

    def report(self, created) -> None:
        token = created.obj
        self.stdout.write(
            f"Created {'test' if token.is_test else 'live'} API token {token.name!r} (prefix {token.prefix}) "
            f"with scopes {' '.join(token.scopes)}. The secret is shown once:"
        )
        self.stdout.write(created.secret)
