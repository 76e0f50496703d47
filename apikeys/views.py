"""Portal pages for API tokens and API credentials (SPEC §4.8).

A new secret is rendered straight into the answer to the POST that made it, with
`Cache-Control: no-store`: it is never stored (not in the session, not in a flash message), never
put in a URL or a redirect, and never logged. So that reloading that answer (the browser re-posts)
cannot make a second key or reset a credential again, each form that makes a secret carries a
one-use nonce: a form sent twice leads back to the list with a note.
"""

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Membership
from apikeys import selectors, services
from apikeys.forms import CredentialCreateForm, TokenCreateForm
from apikeys.models import ApiCredential, ApiToken
from audit.context import AuditContext
from core import ratelimit
from core.errors import ApplicationError, raise_for_page
from core.forms import apply_form_error

FORM_NONCE = "form_nonce"
FORM_NONCE_SECONDS = 24 * 3600
ALREADY_SENT = (
    "That form was already sent, so nothing more was done: what it made is in the list, and a secret is "
    "shown only once. If you did not see the secret, reset the credential (or delete the token and create "
    "another)."
)
FORM_EXPIRED = "The form had expired: please check it and send it again."


def _new_nonce() -> str:
    return secrets.token_urlsafe(16)


def _nonce_key(request: HttpRequest) -> str | None:
    nonce = request.POST.get(FORM_NONCE, "")
    return f"apikeys-form:{request.user.pk}:{nonce}" if 16 <= len(nonce) <= 64 else None


def _first_submission(request: HttpRequest) -> bool:
    """True the first time a form's nonce comes back; False for a re-post (a reload). Not a
    security check (CSRF is): it only keeps a reload from acting twice."""
    key = _nonce_key(request)
    return key is not None and ratelimit.once(key, seconds=FORM_NONCE_SECONDS)


def _release_nonce(request: HttpRequest) -> None:
    """The action was refused (nothing was made): sending the same form again may act."""
    key = _nonce_key(request)
    if key is not None:
        ratelimit.forget_once(key)


def _refuse_resend(request: HttpRequest, to: str) -> HttpResponse:
    messages.info(request, ALREADY_SENT if _nonce_key(request) else FORM_EXPIRED)
    return redirect(to)


def _manager(request: HttpRequest) -> Membership:
    if not selectors.can_manage_api_keys(request.user):
        raise PermissionDenied
    return request.user.membership


def _list_url(obj: ApiToken | ApiCredential) -> str:
    return reverse("apikeys:list") + ("#test" if obj.is_test else "#live")


@sensitive_variables("context")  # kept out of error reports
def _secret_page(request: HttpRequest, context: dict) -> HttpResponse:
    response = render(request, "apikeys/secret.html", context)
    add_never_cache_headers(response)  # Cache-Control: …, no-store, private
    return response


def _token(request: HttpRequest, token_id: int) -> ApiToken:
    token = selectors.token_get(account_id=_manager(request).account_id, token_id=token_id)
    if token is None:
        raise Http404
    return token


def _credential(request: HttpRequest, credential_id: int) -> ApiCredential:
    credential = selectors.credential_get(account_id=_manager(request).account_id, credential_id=credential_id)
    if credential is None:
        raise Http404
    return credential


def _initial(request: HttpRequest) -> dict:
    """`?mode=test` from a test section's "create one" link."""
    return {"mode": "test"} if request.GET.get("mode") == "test" else {}


@login_required
def key_list(request: HttpRequest) -> HttpResponse:
    account_id = _manager(request).account_id
    sections = [
        {
            "mode": mode,
            "title": title,
            "tokens": selectors.token_list(account_id=account_id, is_test=mode == "test"),
            "credentials": selectors.credential_list(account_id=account_id, is_test=mode == "test"),
        }
        for mode, title in (("live", "Live keys"), ("test", "Test keys"))
    ]
    return render(request, "apikeys/list.html", {"sections": sections})


# --- API tokens -------------------------------------------------------------------------------


@sensitive_variables("new")
@never_cache  # the form's nonce must not come back from the browser's cache
@login_required
def token_create(request: HttpRequest) -> HttpResponse:
    _manager(request)
    scopes = services.allowed_scopes(request.user)
    form = TokenCreateForm(request.POST or None, scopes=scopes, initial=_initial(request))
    if request.method == "POST" and form.is_valid():
        if not _first_submission(request):
            return _refuse_resend(request, reverse("apikeys:list"))
        try:
            new = services.token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.cleaned_data["expires_at"],
                is_test=form.is_test,
                context=AuditContext.from_request(request),
            )
        except ApplicationError as exc:
            _release_nonce(request)
            apply_form_error(form, exc)
        else:
            return _secret_page(request, {"obj": new.obj, "kind": "token", "secret": new.secret, "created": True})
    return render(
        request,
        "apikeys/key_form.html",
        {"form": form, "kind": "token", "scopes_left": bool(scopes), "form_nonce": _new_nonce()},
    )


def _toggle(request: HttpRequest, obj, service, label: str, *, disabled: bool, **ids) -> HttpResponse:
    try:
        service(user=request.user, disabled=disabled, context=AuditContext.from_request(request), **ids)
    except ApplicationError as exc:
        raise_for_page(exc, forbidden=True)
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{label} “{obj.name}” is {'disabled' if disabled else 'enabled'}.")
    return redirect(_list_url(obj))


@require_POST
@login_required
def token_disable(request: HttpRequest, token_id: int) -> HttpResponse:
    token = _token(request, token_id)
    return _toggle(request, token, services.token_set_disabled, "Token", disabled=True, token_id=token.pk)


@require_POST
@login_required
def token_enable(request: HttpRequest, token_id: int) -> HttpResponse:
    token = _token(request, token_id)
    return _toggle(request, token, services.token_set_disabled, "Token", disabled=False, token_id=token.pk)


@require_http_methods(["GET", "POST"])
@login_required
def token_delete(request: HttpRequest, token_id: int) -> HttpResponse:
    token = _token(request, token_id)
    if request.method == "POST":
        try:
            services.token_delete(user=request.user, token_id=token.pk, context=AuditContext.from_request(request))
        except ApplicationError as exc:
            raise_for_page(exc, forbidden=True)
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Token “{token.name}” is deleted. Requests with it now fail.")
        return redirect(_list_url(token))
    return render(
        request,
        "apikeys/confirm.html",
        {
            "title": "Delete this API token?",
            "obj": token,
            "label": f"{token.name} ({token.prefix})",
            "warning": "Every request that uses it will fail at once. This cannot be undone.",
            "button": "Delete token",
        },
    )


# --- API credentials --------------------------------------------------------------------------


@sensitive_variables("new")
@never_cache  # the form's nonce must not come back from the browser's cache
@login_required
def credential_create(request: HttpRequest) -> HttpResponse:
    _manager(request)
    scopes = services.allowed_scopes(request.user)
    form = CredentialCreateForm(request.POST or None, scopes=scopes, initial=_initial(request))
    if request.method == "POST" and form.is_valid():
        if not _first_submission(request):
            return _refuse_resend(request, reverse("apikeys:list"))
        try:
            new = services.credential_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                is_test=form.is_test,
                context=AuditContext.from_request(request),
            )
        except ApplicationError as exc:
            _release_nonce(request)
            apply_form_error(form, exc)
        else:
            return _secret_page(request, {"obj": new.obj, "kind": "credential", "secret": new.secret, "created": True})
    return render(
        request,
        "apikeys/key_form.html",
        {"form": form, "kind": "credential", "scopes_left": bool(scopes), "form_nonce": _new_nonce()},
    )


@sensitive_variables("new")
@require_http_methods(["GET", "POST"])
@never_cache  # the form's nonce must not come back from the browser's cache
@login_required
def credential_reset(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = _credential(request, credential_id)
    if request.method == "POST":
        if not _first_submission(request):
            return _refuse_resend(request, _list_url(credential))
        try:
            new = services.credential_reset(
                user=request.user, credential_id=credential.pk, context=AuditContext.from_request(request)
            )
        except ApplicationError as exc:
            _release_nonce(request)
            raise_for_page(exc, forbidden=True)
            messages.error(request, exc.detail)
            return redirect(_list_url(credential))
        return _secret_page(request, {"obj": new.obj, "kind": "credential", "secret": new.secret, "created": False})
    return render(
        request,
        "apikeys/confirm.html",
        {
            "title": "Reset this credential's secret?",
            "obj": credential,
            "label": f"{credential.name} ({credential.key_id})",
            "warning": "A new secret is shown once. The current secret, and any access token issued with it, "
            "stop working at once: update every system that uses it.",
            "button": "Reset secret",
            "form_nonce": _new_nonce(),
        },
    )


@require_POST
@login_required
def credential_disable(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = _credential(request, credential_id)
    return _toggle(
        request, credential, services.credential_set_disabled, "Credential", disabled=True, credential_id=credential.pk
    )


@require_POST
@login_required
def credential_enable(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = _credential(request, credential_id)
    return _toggle(
        request, credential, services.credential_set_disabled, "Credential", disabled=False, credential_id=credential.pk
    )


@require_http_methods(["GET", "POST"])
@login_required
def credential_delete(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = _credential(request, credential_id)
    if request.method == "POST":
        try:
            services.credential_delete(
                user=request.user, credential_id=credential.pk, context=AuditContext.from_request(request)
            )
        except ApplicationError as exc:
            raise_for_page(exc, forbidden=True)
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Credential “{credential.name}” is deleted. Requests with it now fail.")
        return redirect(_list_url(credential))
    return render(
        request,
        "apikeys/confirm.html",
        {
            "title": "Delete this API credential?",
            "obj": credential,
            "label": f"{credential.name} ({credential.key_id})",
            "warning": "Every request that uses it will fail at once. This cannot be undone.",
            "button": "Delete credential",
        },
    )
