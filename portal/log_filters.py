"""Logging filters that keep secrets out of log lines written by code we do not own."""

import logging
import re

from portal.gunicorn_logging import RESET_PATH

# Query parameters that carry a secret: the legacy endpoint's key (reference 002).
SECRET_PARAMS = re.compile(r"([?&;](?:smsKey|password|token|secret)=)[^&;\s\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    return RESET_PATH.sub(r"\1[redacted]/", SECRET_PARAMS.sub(r"\1[redacted]", text))


class RedactSecrets(logging.Filter):
    """For Django's development server (`make run`), which logs every request line with its
    query string: `smsKey=` values and password-reset tokens become `[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
