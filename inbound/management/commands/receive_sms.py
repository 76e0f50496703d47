from django.core.management.base import BaseCommand, CommandError

from inbound.hooks import mo_fields
from inbound.services import inbound_receive


class Command(BaseCommand):
    help = "Receive an SMS as if Kannel had called /hooks/kannel/mo with it (for `make run`)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from", required=True, help="The sender's number")
        parser.add_argument("--to", required=True, help="The inbound number")
        parser.add_argument("--text", required=True)

    def handle(self, *args, **options):
        # The hook's own checks, then the hook's service.
        values = mo_fields({name: options[name] for name in ("from", "to", "text")})
        if values is None:
            raise CommandError("--from and --to are at most 32 characters, --text at most 10,000.")
        message = inbound_receive(sender=values["from"], recipient=values["to"], text=values["text"])
        if message is None:
            self.stdout.write("A repeat of an SMS received this minute: nothing stored.")
        elif message.account_id is None:
            self.stdout.write(f"Received {message.pk}: {message.recipient} is assigned to no account (staff only).")
        else:
            self.stdout.write(f"Received {message.pk} in the inbox of account {message.account_id}.")
