"""Helpers for the management commands."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError

from core.errors import ApplicationError


@contextmanager
def refusal_as_error() -> Iterator[None]:
    """A service's refusal ends the command with its detail as the error (exit status 1)."""
    try:
        yield
    except ApplicationError as exc:
        raise CommandError(exc.detail) from exc
