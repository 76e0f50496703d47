"""Helpers for the portal's HTML forms."""

from core.errors import ApplicationError


def apply_form_error(form, exc: ApplicationError, *, detail_on_field: bool = False) -> None:
    """A service's refusal on the form: each message on the field it names where the form has
    that field, else the refusal's detail above the form. With `detail_on_field`, a named field
    shows the refusal's detail (one sentence that says which field) instead of its own short
    messages."""
    placed = False
    for field, errors in (exc.errors or {}).items():
        if field in form.fields:
            for error in [exc.detail] if detail_on_field else errors:
                form.add_error(field, error)
            placed = True
    if not placed:
        form.add_error(None, exc.detail)
