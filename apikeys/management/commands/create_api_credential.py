from apikeys.management.keycommand import KeyCommand
from apikeys.services import credential_create


class Command(KeyCommand):
    help = "Create an API credential (key id + secret); prints `KEY_ID SECRET` on the last line (once)."
    kind = "credential"
    service = staticmethod(credential_create)
    scopes_example = "messages:send balance:read"

    def report(self, created) -> None:
        credential = created.obj
        self.stdout.write(
            f"Created {'test' if credential.is_test else 'live'} API credential {credential.name!r} with scopes "
            f"{' '.join(credential.scopes)}. Key id and secret (shown once):"
        )
        self.stdout.write(f"{credential.key_id} {created.secret}")
