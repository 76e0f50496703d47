from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import User
from apikeys.services import token_create
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an API token for the user with this e-mail; prints the secret on the last line (once)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--scopes", required=True, help='Space-separated, e.g. "messages:send messages:read"')
        parser.add_argument("--name", default="Command-line token")
        parser.add_argument("--expires", default=None, help="Date (end of that day, UTC) or ISO date-time")
        parser.add_argument("--test", action="store_true", help="A test-mode token (never sends, never charges)")

    def handle(self, *args, **options):
        user = User.objects.select_related("membership__account").filter(email=options["email"].lower()).first()
        if user is None:
            raise CommandError("No user with that e-mail.")
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
        try:
            created = token_create(
                user=user,
                name=options["name"],
                scopes=options["scopes"].split(),
                expires_at=expires_at,
                is_test=options["test"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        token = created.obj
        self.stdout.write(
            f"Created {'test' if token.is_test else 'live'} API token {token.name!r} (prefix {token.prefix}) "
            f"with scopes {' '.join(token.scopes)}. The secret is shown once:"
        )
        self.stdout.write(created.secret)
