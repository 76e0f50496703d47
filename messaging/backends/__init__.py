"""SMS delivery backends, chosen by settings.SMS_BACKEND like Django's email backends."""

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from messaging.backends.base import BaseSmsBackend, OutgoingSms, SendResult

ALIASES = {
    "console": "messaging.backends.console.ConsoleBackend",
    "file": "messaging.backends.file.FileBackend",
    "locmem": "messaging.backends.locmem.LocmemBackend",
    "kannel": "messaging.backends.kannel.KannelBackend",
}

__all__ = ["BaseSmsBackend", "OutgoingSms", "SendResult", "get_backend"]


@lru_cache(maxsize=4)
def _backend(path: str) -> BaseSmsBackend:
    return import_string(ALIASES.get(path, path))()


def get_backend() -> BaseSmsBackend:
    """The configured backend; one instance per process so it can pool its connections."""
    return _backend(settings.SMS_BACKEND)
