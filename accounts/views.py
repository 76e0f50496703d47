import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import selectors, services
from accounts.forms import (
    AccountPolicyForm,
    AuditFilterForm,
    DisableTwoFactorForm,
    EnrolCodeForm,
    IPAllowlistForm,
    PasswordChangeForm,
    PasswordConfirmForm,
    PhoneForm,
    PolicySetPasswordForm,
    ReplaceAuthenticatorForm,
    ResetRequestForm,
    SessionTimeoutForm,
    SignInCodeForm,
    SignInForm,
)
from accounts.models import IPAllowlistEntry, SMSDevice
from core import ratelimit
from core.csv_export import streaming_csv
from core.errors import ApplicationError
from core.ip import get_client_ip

ENROL_KEY = "accounts.enrol"


def _apply_form_error(form, exc: ApplicationError) -> None:
    if exc.errors:
        for field, errors in exc.errors.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        if not any(field in form.fields for field in exc.errors):
            form.add_error(None, exc.detail)
    else:
        form.add_error(None, exc.detail)


def _safe_next(request: HttpRequest, value: str | None) -> str:
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
            f"Your password is older than {user.account.password_max_age_days} days. Please change it soon.",
        )
    return _with_device_cookie(request, redirect(_safe_next(request, next_url)))


# --- Sign-in ----------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request, request.GET.get("next")))
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    form = SignInForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        result = services.sign_in_after_password(request=request, user=user)
        if result == services.SignInResult.IP_REFUSED:
            return render(request, "accounts/ip_refused.html", {"ip": get_client_ip(request)}, status=403)
        if result == services.SignInResult.SECOND_FACTOR:
            request.session["accounts.next"] = next_url
            return redirect("accounts:login-verify")
        return _after_sign_in(request, user, next_url)
    if request.method == "POST" and not getattr(request, "axes_locked_out", False):
        # As typed, less NUL (PostgreSQL text cannot hold it): any input is a failed sign-in, never a 500.
        email = (request.POST.get("username") or "").replace("\x00", "").strip().lower()[:254]
        services.sign_in_failed(request=request, email=email)
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


@sensitive_post_parameters("code")
@never_cache
def sign_in_verify(request: HttpRequest) -> HttpResponse:
    found = services.pending_sign_in(request)
    if found is None:
        messages.info(request, "Your sign-in has expired. Please start again.")
        return redirect("accounts:login")
    user, pending = found
    method = request.POST.get("method") or request.GET.get("method") or pending["method"]
    available = {
        "sms": SMSDevice.objects.filter(user=user, confirmed=True).exists(),
        "totp": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        "backup": services.backup_codes_left(user) > 0,
    }
    if method not in available or not available[method]:
        method = next((m for m, ok in available.items() if ok), "sms")
    form = SignInCodeForm(initial={"method": method})
    if request.method == "POST":
        if request.POST.get("action") == "resend":
            try:
                services.sign_in_resend(request=request)
            except ApplicationError as exc:
                if exc.code in ("ip_refused", "otp_locked"):
                    return _second_step_refused(request, exc)
                messages.error(request, exc.detail)
            else:
                messages.success(request, "A new code is on its way.")
            return redirect(reverse("accounts:login-verify") + "?method=sms")
        form = SignInCodeForm(request.POST)
        if form.is_valid():
            try:
                user = services.sign_in_verify(
                    request=request, method=form.cleaned_data["method"], code=form.cleaned_data["code"]
                )
            except ApplicationError as exc:
                if exc.code in ("sign_in_expired", "otp_locked", "ip_refused"):
                    return _second_step_refused(request, exc)
                _apply_form_error(form, exc)
            else:
                next_url = request.session.pop("accounts.next", "")
                return _after_sign_in(request, user, next_url)
    send_error = pending.pop("send_error", None)
    if send_error:
        request.session.modified = True
        messages.error(request, send_error)
    phone = SMSDevice.objects.filter(user=user, confirmed=True).values_list("phone", flat=True).first()
    return render(
        request,
        "accounts/login_verify.html",
        {"form": form, "method": method, "available": available, "phone_hint": _mask_phone(phone)},
    )


def _second_step_refused(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    """The waiting sign-in is over: from a refused address, the allowlist's page; otherwise back
    to the password step with the reason."""
    if exc.code == "ip_refused":
        return render(request, "accounts/ip_refused.html", {"ip": get_client_ip(request)}, status=403)
    messages.error(request, exc.detail)
    return redirect("accounts:login")


def _mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}•••••{phone[-3:]}" if phone else ""


def locked_out(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' lockout answer: a clear page, and an audit event and alert (once an hour)."""
    services.sign_in_locked_out(request=request, credentials=credentials)
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("accounts:login")


# --- Password reset (Django's views; the reset never signs anyone in) --------------------------


RESET_EMAILS_PER_ADDRESS_PER_HOUR = 3
RESET_REQUESTS_PER_IP_PER_HOUR = 20


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetRequestForm  # queues the e-mail (accounts/email/password_reset*.txt) for a task
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password-reset-done")

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
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")
    post_reset_login = False  # the user signs in normally afterwards, second factor included

    def form_valid(self, form):
        form.request = self.request
        return super().form_valid(form)


# --- Security page ----------------------------------------------------------------------------


@login_required
def security(request: HttpRequest) -> HttpResponse:
    user = request.user
    device_id = request.get_signed_cookie(settings.DEVICE_COOKIE_NAME, default=None, salt="accounts.device")
    account = user.account
    context = {
        "sms_device": SMSDevice.objects.filter(user=user, confirmed=True).first(),
        "totp_device": TOTPDevice.objects.filter(user=user, confirmed=True).first(),
        "backup_left": services.backup_codes_left(user),
        "two_factor_required": services.two_factor_required(user),
        "timeout_form": SessionTimeoutForm(
            choices=services.session_timeout_choices(user),
            initial={"minutes": services.session_timeout_minutes(user)},
        ),
        "sessions": selectors.user_sessions(user=user, current_key=request.session.session_key),
        "devices": selectors.known_devices(
            user=user, current_hash=services.device_hash(device_id) if device_id else None
        ),
        "password_expired": services.password_expired(user),
        "can_manage": selectors.can_manage_security(user),
        "account": account,
    }
    if context["can_manage"]:
        context["policy_form"] = AccountPolicyForm(instance=account, prefix="policy")
        context["allowlist_forms"] = [
            IPAllowlistForm(
                prefix=scope,
                initial={"scope": scope, "entries": selectors.ip_allowlist_text(account_id=account.pk, scope=scope)},
            )
            for scope in (IPAllowlistEntry.Scope.PORTAL, IPAllowlistEntry.Scope.API)
        ]
        context["current_ip"] = get_client_ip(request)
    return render(request, "accounts/security.html", context)


def _end_others_if_asked(request: HttpRequest, form) -> None:
    if form.cleaned_data.get("end_other_sessions"):
        count = services.sessions_end_others(user=request.user, request=request)
        if count:
            messages.info(request, f"Signed out {count} other session{'s' if count > 1 else ''}.")


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "sms_device": SMSDevice.objects.filter(user=request.user, confirmed=True).first(),
            "totp_device": TOTPDevice.objects.filter(user=request.user, confirmed=True).first(),
            "required": services.two_factor_required(request.user),
        },
    )


@sensitive_post_parameters("password")
@login_required
def two_factor_sms(request: HttpRequest) -> HttpResponse:
    user = request.user
    has_sms = SMSDevice.objects.filter(user=user, confirmed=True).exists()
    form = PhoneForm(request.POST or None, initial={"phone": user.phone})
    if request.method == "POST" and form.is_valid():
        challenge = services.secrets.token_urlsafe(24)
        try:
            device = services.sms_device_start(
                user=user,
                phone=form.cleaned_data["phone"],
                password=form.cleaned_data.get("password"),
                challenge=challenge,
                request=request,
            )
        except ApplicationError as exc:
            _apply_form_error(form, exc)
        else:
            request.session[ENROL_KEY] = {"device": device.pk, "challenge": challenge}
            messages.success(request, f"We sent a code to {device.phone}.")
            return redirect("accounts:two-factor-sms-confirm")
    return render(request, "accounts/two_factor_sms.html", {"form": form, "has_sms": has_sms})


@sensitive_post_parameters("code")
@login_required
@never_cache  # the first backup codes on the page: no copy in any cache
def two_factor_sms_confirm(request: HttpRequest) -> HttpResponse:
    enrol = request.session.get(ENROL_KEY)
    device = SMSDevice.objects.filter(user=request.user, pk=(enrol or {}).get("device"), confirmed=False).first()
    if device is None:
        return redirect("accounts:two-factor-sms")
    form = EnrolCodeForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "resend":
        try:
            services.otp_sms_send(device_id=device.pk, challenge=enrol["challenge"], request=request)
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "A new code is on its way.")
        return redirect("accounts:two-factor-sms-confirm")
    if request.method == "POST" and form.is_valid():
        try:
            device = services.sms_device_confirm(
                user=request.user,
                device_id=device.pk,
                code=form.cleaned_data["code"],
                challenge=enrol["challenge"],
                request=request,
            )
        except ApplicationError as exc:
            _apply_form_error(form, exc)
        else:
            request.session.pop(ENROL_KEY, None)
            return _enrolled(request, form, device)
    return render(request, "accounts/two_factor_sms_confirm.html", {"form": form, "device": device})


def _enrolled(request: HttpRequest, form, device) -> HttpResponse:
    from django_otp import login as otp_login

    # This session has just proved the second factor: a new session key for it (a key known
    # before, from a confined required-2FA session say, must not inherit the verified state).
    request.session.cycle_key()
    otp_login(request, device)
    _end_others_if_asked(request, form)
    messages.success(request, "Two-factor sign-in is on.")
    if services.backup_codes_left(request.user) == 0:
        codes = services.backup_codes_regenerate(user=request.user, request=request)
        return render(request, "accounts/backup_codes.html", {"codes": codes, "first_time": True})
    return redirect("accounts:security")


@sensitive_post_parameters("code", "password")
@login_required
@never_cache  # a secret or backup codes on the page: no copy in any cache
def two_factor_totp(request: HttpRequest) -> HttpResponse:
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    form_class = (
        ReplaceAuthenticatorForm if TOTPDevice.objects.filter(user=user, confirmed=True).exists() else EnrolCodeForm
    )
    if request.method == "GET" or device is None:
        device = services.totp_device_start(user=user)
        form = form_class()
    else:
        form = form_class(request.POST)
        if form.is_valid():
            try:
                device = services.totp_device_confirm(
                    user=user,
                    device_id=device.pk,
                    code=form.cleaned_data["code"],
                    request=request,
                    password=form.cleaned_data.get("password"),
                )
            except ApplicationError as exc:
                _apply_form_error(form, exc)
            else:
                return _enrolled(request, form, device)
    return render(
        request,
        "accounts/two_factor_totp.html",
        {"form": form, "qr_svg": services.totp_config_svg(device), "secret": services.totp_secret_base32(device)},
    )


@sensitive_post_parameters("password")
@login_required
@never_cache  # a secret or backup codes on the page: no copy in any cache
def backup_codes(request: HttpRequest) -> HttpResponse:
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            right = services.password_confirm(user=request.user, password=form.cleaned_data["password"])
        except ApplicationError as exc:
            right = False
            form.add_error(None, exc.detail)
        if not right:
            form.add_error("password", "Wrong password.")
        else:
            codes = services.backup_codes_regenerate(user=request.user, request=request)
            return render(request, "accounts/backup_codes.html", {"codes": codes})
    return render(request, "accounts/backup_codes_confirm.html", {"form": form})


@sensitive_post_parameters("password")
@login_required
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    form = DisableTwoFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.two_factor_disable(user=request.user, password=form.cleaned_data["password"], request=request)
        except ApplicationError as exc:
            _apply_form_error(form, exc)
        else:
            _end_others_if_asked(request, form)
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("accounts:security")
    return render(request, "accounts/two_factor_disable.html", {"form": form})


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_set(user=request.user, new_password=form.cleaned_data["new_password1"], request=request)
        except ApplicationError as exc:
            for error in (exc.errors or {}).get("password", [exc.detail]):
                form.add_error("new_password1", error)
        else:
            update_session_auth_hash(request, request.user)  # this session stays, every other one ends
            messages.success(request, "Your password is changed. Your other sessions were signed out.")
            return redirect("accounts:security")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "forced": services.password_change_forced(request.user)},
    )


@require_POST
@login_required
def session_timeout(request: HttpRequest) -> HttpResponse:
    form = SessionTimeoutForm(request.POST, choices=services.session_timeout_choices(request.user))
    if form.is_valid():
        services.session_timeout_set(user=request.user, minutes=form.cleaned_data["minutes"], request=request)
        messages.success(request, "Your inactivity timeout is saved.")
    else:
        messages.error(request, "Choose one of the offered timeouts.")
    return redirect(reverse("accounts:security") + "#sessions")


@require_POST
@login_required
def session_revoke(request: HttpRequest) -> HttpResponse:
    key = selectors.session_key_for_public_id(user=request.user, public_id=request.POST.get("session", ""))
    if key is None:
        messages.error(request, "That session has already ended.")
    elif key == request.session.session_key:
        messages.error(request, "This is your current session: use Sign out instead.")
    else:
        services.session_revoke(user=request.user, session_key=key, request=request)
        messages.success(request, "The session is signed out.")
    return redirect(reverse("accounts:security") + "#sessions")


@require_POST
@login_required
def sessions_end_others(request: HttpRequest) -> HttpResponse:
    count = services.sessions_end_others(user=request.user, request=request)
    messages.success(request, f"Signed out of {count} other session{'s' if count != 1 else ''}.")
    return redirect(reverse("accounts:security") + "#sessions")


@require_POST
@login_required
def device_forget(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.known_device_forget(user=request.user, device_pk=pk, request=request)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "The device is forgotten: signing in from it again will send an alert.")
    return redirect(reverse("accounts:security") + "#devices")


def _require_manager(request: HttpRequest) -> None:
    if not selectors.can_manage_security(request.user):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied


@require_POST
@login_required
def account_policy(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = AccountPolicyForm(request.POST, instance=request.user.account, prefix="policy")
    if form.is_valid():
        services.account_policy_update(
            account=request.user.account, data=form.cleaned_data, actor=request.user, request=request
        )
        messages.success(request, "The account's security policy is saved.")
    else:
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{form.fields[field].label if field in form.fields else ''} {error}".strip())
    return redirect(reverse("accounts:security") + "#policy")


@login_required
def ip_allowlist(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    if request.method != "POST":
        return redirect(reverse("accounts:security") + "#allowlist")
    scope = request.POST.get("scope_name", "")
    if scope not in IPAllowlistEntry.Scope.values:
        return redirect(reverse("accounts:security") + "#allowlist")
    form = IPAllowlistForm(request.POST, prefix=scope)
    if form.is_valid():
        entries, errors = services.parse_allowlist(form.cleaned_data["entries"])
        for error in errors:
            form.add_error("entries", error)
        if not errors:
            try:
                services.ip_allowlist_replace(
                    account=request.user.account,
                    scope=scope,
                    entries=entries,
                    actor=request.user,
                    request=request,
                    confirm_self_lockout=form.cleaned_data["confirm_self_lockout"],
                )
            except ApplicationError as exc:
                form.add_error("confirm_self_lockout" if exc.code == "self_lockout" else None, exc.detail)
            else:
                messages.success(request, f"The {scope} allowlist is saved ({len(entries)} entries).")
                return redirect(reverse("accounts:security") + "#allowlist")
    return render(
        request,
        "accounts/ip_allowlist_edit.html",
        {"form": form, "scope": scope, "current_ip": get_client_ip(request)},
        status=400,
    )


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, actions=selectors.audit_actions(user=request.user))
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.audit_events(
        user=request.user,
        action=filters.get("action") or "",
        since=filters.get("since"),
        until=filters.get("until"),
    )
    if form.is_bound and not form.is_valid():
        events = events.none()  # an unknown filter matches nothing, rather than everything
    if request.GET.get("format") == "csv":
        rows = (
            [
                event.created_at,
                event.action,
                event.actor.email if event.actor else "",  # "=1+2@example.com" is a valid address
                event.actor_token,
                event.ip or "",
                event.user_agent,
                event.object_repr,
                str(event.data or ""),
            ]
            for event in events.iterator(chunk_size=1000)
        )
        header = ["time_utc", "action", "actor", "token", "ip", "user_agent", "object", "details"]
        return streaming_csv("audit-log.csv", header, rows)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "accounts/audit_log.html", {"form": form, "page": page, "query": query.urlencode()})
