import re

from gunicorn.glogging import Logger

RESET_PATH = re.compile(r"(/accounts/reset/)[^/\s]+/[^/\s]+/")


class RedactingLogger(Logger):
    """gunicorn's logger, with password-reset tokens cut out of access-log lines."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r"):
            if key in atoms and isinstance(atoms[key], str):
                atoms[key] = RESET_PATH.sub(r"\1[redacted]/", atoms[key])
        return atoms
