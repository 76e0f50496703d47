"""Portal pages for API tokens and API credentials (SPEC §4.8).

A new secret is rendered straight into the answer to the POST that made it, with
`Cache-Control: no-store`: it is never stored (not in the session, not in a flash message), never
put in a URL or a redirect, and never logged. So that reloading that answer (the browser re-posts)
cannot make a second key or reset a credential again, each form that makes a secret carries a
one-use nonce: a form sent twice leads back to the list with a note.
"""

from collections.abc import Callable
from dataclasses import dataclass

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
from core.errors import ApplicationError, raise_for_page
from core.forms import apply_form_error, form_nonce_first, form_nonce_key, form_nonce_new, form_nonce_release
from security.sudo import sudo_required

ALREADY_SENT = (
    "That form was already sent, so nothing more was done: what it made is in the list, and a secret is "
    "shown only once. If you did not see the secret, reset the credential (or delete the token and create "
    "another)."
)
FORM_EXPIRED = "The form had expired: please check it and send it again."


def _refuse_resend(request: HttpRequest, to: str) -> HttpResponse:
    messages.info(request, ALREADY_SENT if form_nonce_key(request) else FORM_EXPIRED)
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


@dataclass(frozen=True)
class KeyKind:
    """What the pages of API tokens and of API credentials differ in (the pages themselves are the
    same): `apikeys/urls.py` hands each view its kind."""

    name: str  # "token" or "credential": the templates' `kind`
    ident: str  # the field shown beside the key's name: `prefix` or `key_id`
    form: type  # TokenCreateForm or CredentialCreateForm
    create_fields: tuple[str, ...]  # the form's fields passed to `create` beyond name, scopes and mode
    get: Callable  # selectors.<name>_get
    create: Callable  # services.<name>_create
    set_disabled: Callable  # services.<name>_set_disabled
    delete: Callable  # services.<name>_delete

    @property
    def label(self) -> str:
        return self.name.capitalize()

    def ids(self, pk: int) -> dict:
        """The id argument of the kind's selectors and services: `token_id=` or `credential_id=`."""
        return {f"{self.name}_id": pk}


TOKEN = KeyKind(
    name="token",
    ident="prefix",
    form=TokenCreateForm,
    create_fields=("expires_at",),
    get=selectors.token_get,
    create=services.token_create,
    set_disabled=services.token_set_disabled,
    delete=services.token_delete,
)
CREDENTIAL = KeyKind(
    name="credential",
    ident="key_id",
    form=CredentialCreateForm,
    create_fields=(),
    get=selectors.credential_get,
    create=services.credential_create,
    set_disabled=services.credential_set_disabled,
    delete=services.credential_delete,
)


def _key(request: HttpRequest, kind: KeyKind, pk: int) -> ApiToken | ApiCredential:
    key = kind.get(account_id=_manager(request).account_id, **kind.ids(pk))
    if key is None:
        raise Http404
    return key


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


# --- Tokens and credentials alike (the URL names the kind) ---------------------------------------


@sensitive_variables("new")
@never_cache  # the form's nonce must not come back from the browser's cache
@sudo_required  # a new secret needs a recent authentication, not only a session
def key_create(request: HttpRequest, kind: KeyKind) -> HttpResponse:
    _manager(request)
    scopes = services.allowed_scopes(request.user)
    form = kind.form(request.POST or None, scopes=scopes, initial=_initial(request))
    if request.method == "POST" and form.is_valid():
        if not form_nonce_first(request):
            return _refuse_resend(request, reverse("apikeys:list"))
        try:
            new = kind.create(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                is_test=form.is_test,
                context=AuditContext.from_request(request),
                **{field: form.cleaned_data[field] for field in kind.create_fields},
            )
        except ApplicationError as exc:
            form_nonce_release(request)
            apply_form_error(form, exc)
        else:
            return _secret_page(request, {"obj": new.obj, "kind": kind.name, "secret": new.secret, "created": True})
    return render(
        request,
        "apikeys/key_form.html",
        {"form": form, "kind": kind.name, "scopes_left": bool(scopes), "form_nonce": form_nonce_new()},
    )


def _act(request: HttpRequest, kind: KeyKind, key, service, done: str, **arguments) -> HttpResponse:
    """Calls a key service for the list page, then back to the list with `done` or the refusal (a
    key gone meanwhile is the page's 404, the permission lost meanwhile its 403)."""
    try:
        service(user=request.user, context=AuditContext.from_request(request), **kind.ids(key.pk), **arguments)
    except ApplicationError as exc:
        raise_for_page(exc, forbidden=True)
        messages.error(request, exc.detail)
    else:
        messages.success(request, done)
    return redirect(_list_url(key))


def _set_disabled(request: HttpRequest, kind: KeyKind, pk: int, *, disabled: bool) -> HttpResponse:
    key = _key(request, kind, pk)
    done = f"{kind.label} “{key.name}” is {'disabled' if disabled else 'enabled'}."
    return _act(request, kind, key, kind.set_disabled, done, disabled=disabled)


@require_POST
@login_required
def key_disable(request: HttpRequest, pk: int, kind: KeyKind) -> HttpResponse:
    return _set_disabled(request, kind, pk, disabled=True)


@require_POST
@login_required
def key_enable(request: HttpRequest, pk: int, kind: KeyKind) -> HttpResponse:
    return _set_disabled(request, kind, pk, disabled=False)


@require_http_methods(["GET", "POST"])
@login_required
def key_delete(request: HttpRequest, pk: int, kind: KeyKind) -> HttpResponse:
    key = _key(request, kind, pk)
    if request.method == "POST":
        done = f"{kind.label} “{key.name}” is deleted. Requests with it now fail."
        return _act(request, kind, key, kind.delete, done)
    return render(
        request,
        "apikeys/confirm.html",
        {
            "title": f"Delete this API {kind.name}?",
            "obj": key,
            "label": f"{key.name} ({getattr(key, kind.ident)})",
            "warning": "Every request that uses it will fail at once. This cannot be undone.",
            "button": f"Delete {kind.name}",
        },
    )


# --- API credentials only ---------------------------------------------------------------------


@sensitive_variables("new")
@require_http_methods(["GET", "POST"])
@never_cache  # the form's nonce must not come back from the browser's cache
@sudo_required  # a new secret needs a recent authentication, not only a session
def credential_reset(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = _key(request, CREDENTIAL, credential_id)
    if request.method == "POST":
        if not form_nonce_first(request):
            return _refuse_resend(request, _list_url(credential))
        try:
            new = services.credential_reset(
                user=request.user, credential_id=credential.pk, context=AuditContext.from_request(request)
            )
        except ApplicationError as exc:
            form_nonce_release(request)
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
            "form_nonce": form_nonce_new(),
        },
    )
