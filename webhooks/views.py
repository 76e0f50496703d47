"""The portal's Webhooks pages, in the security section (`manage_security`): endpoints, their
secrets (shown once, in the answer to the POST that made them, never stored or redirected with),
test events, and each endpoint's recent deliveries with their attempts and "resend"."""

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

from audit.context import AuditContext
from core.errors import ApplicationError, raise_for_page
from core.forms import apply_form_error, form_nonce_first, form_nonce_new, form_nonce_release
from security.selectors import can_manage_security
from security.sudo import sudo_required
from webhooks import selectors, services
from webhooks.forms import EndpointForm
from webhooks.models import Endpoint

ALREADY_SENT = (
    "That form was already sent, so nothing more was done: a secret is shown only once. If you did not see "
    "it, rotate the endpoint's secret."
)


def _account_id(request: HttpRequest) -> int:
    if not can_manage_security(request.user):
        raise PermissionDenied
    return request.user.membership.account_id


def _endpoint(request: HttpRequest, endpoint_id) -> Endpoint:
    endpoint = selectors.endpoint_get(account_id=_account_id(request), endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404
    return endpoint


def _detail(endpoint_id) -> str:
    return reverse("webhooks:detail", args=[endpoint_id])


@sensitive_variables("secret")  # kept out of error reports
def _secret_page(request: HttpRequest, endpoint: Endpoint, secret: str, *, created: bool) -> HttpResponse:
    response = render(request, "webhooks/secret.html", {"endpoint": endpoint, "secret": secret, "created": created})
    add_never_cache_headers(response)  # Cache-Control: …, no-store, private
    return response


@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    endpoints = selectors.endpoint_list(account_id=_account_id(request))
    return render(request, "webhooks/list.html", {"endpoints": endpoints, "limit": services.MAX_ENDPOINTS})


@sensitive_variables("new")
@never_cache  # the form's nonce must not come back from the browser's cache
@sudo_required  # a new signing secret needs a recent authentication, not only a session
def endpoint_create(request: HttpRequest) -> HttpResponse:
    account_id = _account_id(request)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not form_nonce_first(request):
            messages.info(request, ALREADY_SENT)
            return redirect("webhooks:list")
        try:
            new = services.endpoint_create(
                account_id=account_id,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                context=AuditContext.from_request(request),
            )
        except ApplicationError as exc:
            form_nonce_release(request)
            apply_form_error(form, exc)
        else:
            return _secret_page(request, new.endpoint, new.secret, created=True)
    return render(request, "webhooks/form.html", {"form": form, "form_nonce": form_nonce_new()})


@login_required
def endpoint_detail(request: HttpRequest, endpoint_id) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    deliveries = selectors.delivery_list(endpoint=endpoint)
    return render(request, "webhooks/detail.html", {"endpoint": endpoint, "deliveries": deliveries})


def _act(request: HttpRequest, endpoint_id, action, done: str) -> HttpResponse:
    """A service for the endpoint's page, then back to it with `done` or the refusal."""
    try:
        action(account_id=_account_id(request), endpoint_id=endpoint_id, context=AuditContext.from_request(request))
    except ApplicationError as exc:
        raise_for_page(exc)
        messages.error(request, exc.detail)
    else:
        messages.success(request, done)
    return redirect(_detail(endpoint_id))


ENABLED_DONE = {
    True: "The endpoint is enabled: its deliveries still within their 24 hours go out now, and new events reach it.",
    False: "The endpoint is disabled: no event goes to it until you enable it.",
}


@require_POST
@login_required
def endpoint_set_enabled(request: HttpRequest, endpoint_id, enabled: bool) -> HttpResponse:
    def switch(**kwargs):
        return services.endpoint_set_enabled(enabled=enabled, **kwargs)

    return _act(request, endpoint_id, switch, ENABLED_DONE[enabled])


@require_POST
@login_required
def endpoint_test(request: HttpRequest, endpoint_id) -> HttpResponse:
    return _act(request, endpoint_id, services.endpoint_test, "A webhook.test event is on its way.")


@require_POST
@login_required
def delivery_resend(request: HttpRequest, endpoint_id, delivery_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    try:
        services.delivery_resend(
            account_id=endpoint.account_id, delivery_id=delivery_id, context=AuditContext.from_request(request)
        )
    except ApplicationError as exc:
        raise_for_page(exc)
        messages.error(request, exc.detail)
    else:
        messages.success(request, "The event is sent again, with the same webhook-id.")
    return redirect(_detail(endpoint.pk))


@sensitive_variables("new")
@require_http_methods(["GET", "POST"])
@never_cache
@sudo_required
def endpoint_rotate(request: HttpRequest, endpoint_id) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    if request.method == "POST":
        if not form_nonce_first(request):
            messages.info(request, ALREADY_SENT)
            return redirect(_detail(endpoint.pk))
        try:
            new = services.endpoint_rotate(
                account_id=endpoint.account_id, endpoint_id=endpoint.pk, context=AuditContext.from_request(request)
            )
        except ApplicationError as exc:
            form_nonce_release(request)
            raise_for_page(exc)
            messages.error(request, exc.detail)
            return redirect(_detail(endpoint.pk))
        return _secret_page(request, new.endpoint, new.secret, created=False)
    return render(
        request,
        "_confirm.html",
        {
            "title": "Rotate this endpoint's secret?",
            "label": str(endpoint),
            "cancel_url": _detail(endpoint.pk),
            "warning": "A new secret is shown once. For the next 24 hours every event is signed with both the new "
            "and the current secret, so you can update your receiver without missing one.",
            "button": "Rotate secret",
            "form_nonce": form_nonce_new(),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def endpoint_delete(request: HttpRequest, endpoint_id) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    if request.method == "POST":
        try:
            services.endpoint_delete(
                account_id=endpoint.account_id, endpoint_id=endpoint.pk, context=AuditContext.from_request(request)
            )
        except ApplicationError as exc:
            raise_for_page(exc)
            messages.error(request, exc.detail)
            return redirect(_detail(endpoint.pk))
        messages.success(request, f"The endpoint {endpoint} is deleted.")
        return redirect("webhooks:list")
    return render(
        request,
        "_confirm.html",
        {
            "title": "Delete this endpoint?",
            "label": str(endpoint),
            "cancel_url": _detail(endpoint.pk),
            "warning": "No further event goes to it, and its delivery log is deleted with it. This cannot be undone.",
            "button": "Delete endpoint",
        },
    )
