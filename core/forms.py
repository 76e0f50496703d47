"""Helpers for the portal's HTML forms."""

import secrets

from django import forms

from core import ratelimit
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


def form_submit(request, form, action, *, done, to: str, detail_on_field: bool = True):
    """The POST of a form page, in one place: for a valid form, `action(form.cleaned_data)` runs;
    success flashes `done` (a sentence, or a function of what the action answered) and answers a
    redirect to the URL name `to`; a refusal lands on the form (a refusal that means "no such
    object" is the page's 404) and the answer is None: render the form again."""
    from django.contrib import messages
    from django.shortcuts import redirect

    from core.errors import raise_for_page

    if request.method != "POST" or not form.is_valid():
        return None
    try:
        result = action(form.cleaned_data)
    except ApplicationError as exc:
        raise_for_page(exc)
        apply_form_error(form, exc, detail_on_field=detail_on_field)
        return None
    messages.success(request, done(result) if callable(done) else done)
    return redirect(to)


# --- One-use form nonces: a page that shows a secret once must not act twice on a reload ---------

FORM_NONCE = "form_nonce"
FORM_NONCE_SECONDS = 24 * 3600


def form_nonce_new() -> str:
    """A nonce for a form's hidden `form_nonce` field."""
    return secrets.token_urlsafe(16)


def form_nonce_key(request) -> str | None:
    nonce = request.POST.get(FORM_NONCE, "")
    return f"form-nonce:{request.user.pk}:{nonce}" if 16 <= len(nonce) <= 64 else None


def form_nonce_first(request) -> bool:
    """True the first time a form's nonce comes back; False for a re-post (a reload). Not a
    security check (CSRF is): it only keeps a reload from acting twice."""
    key = form_nonce_key(request)
    return key is not None and ratelimit.once(key, seconds=FORM_NONCE_SECONDS)


def form_nonce_release(request) -> None:
    """The action was refused (nothing was made): sending the same form again may act."""
    key = form_nonce_key(request)
    if key is not None:
        ratelimit.forget_once(key)


def day_field(label: str) -> forms.DateField:
    """A date filter of a list page ("Since", "Until"): a day of the user's time zone, as
    core.selectors.created_within reads it."""
    return forms.DateField(required=False, label=label, widget=forms.DateInput(attrs={"type": "date"}))
