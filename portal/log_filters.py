"""Logging filters for log lines written by code we do not own: secrets kept out, and the
routine lines of a frequent beat job left out."""

import logging

from portal.gunicorn_logging import redact


class RedactSecrets(logging.Filter):
    """For Django's development server (`make run`), which logs every request line with its
    query string: `smsKey=` values and password-reset tokens become `[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


class ClientErrorsInOneLine(logging.Filter):
    """For `django.request`: Django logs a refused request (a 403 from PermissionDenied, a 400)
    with the exception's whole traceback, a dozen lines in `make run`'s terminal (where the SMS
    codes are printed) for what is the client's mistake, not the server's. Such records keep
    their one line ("Forbidden (Permission denied): /messages/send/"); server errors (5xx) keep
    their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True


RECOVERY_SWEEP = "messaging.tasks.requeue_stale_messages"


class QuietRecoverySweep(logging.Filter):
    """For Celery's beat and worker loggers: the recovery sweep runs every few seconds
    (SMS_REQUEUE_AFTER), so its routine INFO lines (sent by beat, received, succeeded) would
    bury the rest, `make run`'s printed SMS among them. It logs a warning itself whenever it
    puts work back; its failures still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        data = getattr(record, "data", None)  # Celery's "received" and "succeeded" lines
        if isinstance(data, dict) and data.get("name") == RECOVERY_SWEEP:
            return False
        return not (isinstance(record.args, tuple) and RECOVERY_SWEEP in record.args)  # beat's


def logging_config(*, level: str) -> dict:
    """The project's LOGGING: one line per event, to stderr, never a secret (these filters)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "filters": {
            "redact": {"()": "portal.log_filters.RedactSecrets"},
            "quiet_sweep": {"()": "portal.log_filters.QuietRecoverySweep"},
            "client_errors": {"()": "portal.log_filters.ClientErrorsInOneLine"},
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line"}},
        "root": {"handlers": ["stderr"], "level": level},
        # urllib3 logs whole request URLs at DEBUG, and a sendsms URL carries the Kannel password.
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
            "urllib3": {"level": "WARNING"},
            # The development server (`make run`) logs request lines with their query strings.
            "django.server": {"handlers": ["stderr"], "filters": ["redact"], "level": "INFO", "propagate": False},
            # Refused requests (403, 400) in one line, without the exception's traceback.
            "django.request": {"filters": ["client_errors"]},
            # The recovery sweep's routine lines, every few seconds (portal/log_filters.py).
            "celery.beat": {"filters": ["quiet_sweep"]},
            "celery.worker.strategy": {"filters": ["quiet_sweep"]},
            "celery.app.trace": {"filters": ["quiet_sweep"]},
        },
    }
