"""The re-authentication page of sudo mode (security/sudo.py): the password, or a code of the
current second factor, then back to the page that asked for it."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from core.errors import ApplicationError
from core.forms import apply_form_error
from security import selectors, services
from security.forms import CodeForm, PasswordConfirmForm
from security.sudo import reauthenticate_url
from security.views.signin import mask_phone, safe_next

METHOD_LABELS = {
    "password": "your password",
    "sms": "a code by SMS",
    "totp": "authenticator app",
    "backup": "a backup code",
}


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
def reauthenticate(request: HttpRequest) -> HttpResponse:
    user = request.user
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    available = services.reauth_methods(user)
    method = request.POST.get("method") or request.GET.get("method") or "password"
    if not available.get(method):
        method = next((m for m, ok in available.items() if ok), "password")
    if request.method == "POST" and request.POST.get("action") == "send":
        try:
            services.reauth_sms_send(request=request)
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "A code is on its way.")
        return redirect(reauthenticate_url(next_url) + "&method=sms")
    form = (PasswordConfirmForm if method == "password" else CodeForm)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            secret = form.cleaned_data["password" if method == "password" else "code"]
            services.reauthenticate(request=request, method=method, secret=secret)
        except ApplicationError as exc:
            apply_form_error(form, exc)
        else:
            return redirect(next_url)
    return render(
        request,
        "security/reauthenticate.html",
        {
            "form": form,
            "method": method,
            "others": [(m, label) for m, label in METHOD_LABELS.items() if available[m] and m != method],
            "next": next_url,
            "minutes": settings.SECURITY_SUDO_SECONDS // 60,
            "phone_hint": mask_phone(selectors.sms_phone(user)),
        },
    )
