import re

from gunicorn.glogging import Logger

RESET_PATH = re.compile(r"(/accounts/reset/)[^/\s]+/[^/\s]+/")
# Query parameters that carry a secret: the legacy endpoint's key (reference 002), the Kannel MO
# hook's shared secret.
SECRET_PARAMS = re.compile(r"((?:^|[?&;])(?:smsKey|password|token|secret)=)[^&;\s\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    """A request line, path or query string without its secrets: reset tokens, secret parameters."""
    return RESET_PATH.sub(r"\1[redacted]/", SECRET_PARAMS.sub(r"\1[redacted]", text))


class RedactingLogger(Logger):
    """gunicorn's logger, with secrets (password-reset tokens, secret query parameters) cut out of
    access-log lines."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r", "q"):
            if key in atoms and isinstance(atoms[key], str):
                atoms[key] = redact(atoms[key])
        return atoms
