"""Helpers for the portal's HTML forms."""

from core.errors import ApplicationError


def apply_form_error(form, exc: ApplicationError) -> None:
    """A service's refusal on the form: each message on the field it names where the form has
    that field, else the refusal's detail above the form."""
    placed = False
    for field, errors in (exc.errors or {}).items():
        if field in form.fields:
            for error in errors:
                form.add_error(field, error)
            placed = True
    if not placed:
        form.add_error(None, exc.detail)
