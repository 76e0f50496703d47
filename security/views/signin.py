"""Sign-in pages: password, second step, sign-out, password reset."""

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from core import ratelimit
from core.errors import ApplicationError
from core.forms import apply_form_error
from core.ip import get_client_ip
from core.text import counted
from security import selectors, services
from security.forms import (
    PolicySetPasswordForm,
    ResetRequestForm,
    SignInCodeForm,
    SignInForm,
)


def safe_next(request: HttpRequest, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return reverse(settings.LOGIN_REDIRECT_URL)


def _with_device_cookie(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    device_id = getattr(request, "device_cookie", None)
    if device_id:
        response.set_signed_cookie(
            settings.DEVICE_COOKIE_NAME,
            device_id,
            salt="accounts.device",
            max_age=settings.DEVICE_COOKIE_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    return response


def _after_sign_in(request: HttpRequest, user, next_url: str) -> HttpResponse:
    if services.password_expired(user) and not services.password_change_forced(user):
        messages.warning(
            request,
            f"Your password is older than {counted(user.account.password_max_age_days, 'day')}. Please change it soon.",
        )
    return _with_device_cookie(request, redirect(safe_next(request, next_url)))


@sensitive_post_parameters("password")
@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(safe_next(request, request.GET.get("next")))
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    form = SignInForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        result = services.sign_in_after_password(request=request, user=user)
        if result == services.SignInResult.IP_REFUSED:
            return render(request, "security/ip_refused.html", {"ip": get_client_ip(request)}, status=403)
        if result == services.SignInResult.SECOND_FACTOR:
            request.session["accounts.next"] = next_url
            return redirect("security:login-verify")
        return _after_sign_in(request, user, next_url)
    if request.method == "POST" and not getattr(request, "axes_locked_out", False):
        # As typed, less NUL (PostgreSQL text cannot hold it): any input is a failed sign-in, never a 500.
        email = (request.POST.get("username") or "").replace("\x00", "").strip().lower()[:254]
        services.sign_in_failed(request=request, email=email)
    return render(request, "security/login.html", {"form": form, "next": next_url})


@sensitive_post_parameters("code")
@never_cache
def sign_in_verify(request: HttpRequest) -> HttpResponse:
    found = services.pending_sign_in(request)
    if found is None:
        messages.info(request, "Your sign-in has expired. Please start again.")
        return redirect("security:login")
    user, pending = found
    method = request.POST.get("method") or request.GET.get("method") or pending["method"]
    available = services.second_factor_methods(user)
    if method not in available or not available[method]:
        method = next((m for m, ok in available.items() if ok), "sms")
    form = SignInCodeForm(initial={"method": method})
    if request.method == "POST":
        if request.POST.get("action") == "resend":  # "Send a new code", or "Text me a code instead"
            first = not services.sms_sent(pending)
            try:
                services.sign_in_resend(request=request)
            except ApplicationError as exc:
                if exc.code in ("ip_refused", "otp_locked"):
                    return _second_step_refused(request, exc)
                messages.error(request, exc.detail)
            else:
                messages.success(request, "A code is on its way." if first else "A new code is on its way.")
            return redirect(reverse("security:login-verify") + "?method=sms")
        form = SignInCodeForm(request.POST)
        if form.is_valid():
            try:
                user = services.sign_in_verify(
                    request=request, method=form.cleaned_data["method"], code=form.cleaned_data["code"]
                )
            except ApplicationError as exc:
                if exc.code in ("sign_in_expired", "otp_locked", "ip_refused"):
                    return _second_step_refused(request, exc)
                apply_form_error(form, exc)
            else:
                next_url = request.session.pop("accounts.next", "")
                return _after_sign_in(request, user, next_url)
    send_error = pending.pop("send_error", None)
    if send_error:
        request.session.modified = True
        messages.error(request, send_error)
    return render(
        request,
        "security/login_verify.html",
        {
            "form": form,
            "method": method,
            "available": available,
            "sms_sent": services.sms_sent(pending),
            "phone_hint": mask_phone(selectors.sms_phone(user)),
        },
    )


def _second_step_refused(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    """The waiting sign-in is over: from a refused address, the allowlist's page; otherwise back
    to the password step with the reason."""
    if exc.code == "ip_refused":
        return render(request, "security/ip_refused.html", {"ip": get_client_ip(request)}, status=403)
    messages.error(request, exc.detail)
    return redirect("security:login")


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}•••••{phone[-3:]}" if phone else ""


def locked_out(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' lockout answer: a clear page, and an audit event and alert (once an hour)."""
    services.sign_in_locked_out(request=request, credentials=credentials)
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "security/locked_out.html", {"minutes": minutes}, status=429)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("security:login")


RESET_EMAILS_PER_ADDRESS_PER_HOUR = 3


RESET_REQUESTS_PER_IP_PER_HOUR = 20


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetRequestForm  # queues the e-mail (security/email/password_reset*.txt) for a task
    template_name = "security/password_reset.html"
    success_url = reverse_lazy("security:password-reset-done")

    def form_valid(self, form):
        """At most RESET_EMAILS_PER_ADDRESS_PER_HOUR reset e-mails to an address and
        RESET_REQUESTS_PER_IP_PER_HOUR requests from a client address: past either, the same
        answer ("if the address is known, an e-mail is on its way"), and no e-mail, so nobody can
        flood an inbox and the answer still tells nothing about the address."""
        email = form.cleaned_data["email"].strip().lower()
        by_address = hashlib.sha256(email.encode()).hexdigest()[:32]  # no address in a cache key
        ip = get_client_ip(self.request) or "unknown"
        if (
            ratelimit.count(f"reset:ip:{ip}", window_seconds=3600) > RESET_REQUESTS_PER_IP_PER_HOUR
            or ratelimit.count(f"reset:address:{by_address}", window_seconds=3600) > RESET_EMAILS_PER_ADDRESS_PER_HOUR
        ):
            return redirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = PolicySetPasswordForm
    template_name = "security/password_reset_confirm.html"
    success_url = reverse_lazy("security:password-reset-complete")
    post_reset_login = False  # the user signs in normally afterwards, second factor included

    def form_valid(self, form):
        form.request = self.request
        return super().form_valid(form)
