"""The security page and its forms: second factors, password, sessions, devices, policy, allowlists, audit log."""

import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.context import AuditContext
from core.csv_export import streaming_csv
from core.errors import ApplicationError
from core.forms import apply_form_error
from core.ip import get_client_ip
from core.text import counted
from security import selectors, services
from security.forms import (
    AccountPolicyForm,
    AuditFilterForm,
    DisableTwoFactorForm,
    EnrolCodeForm,
    IPAllowlistForm,
    PasswordChangeForm,
    PhoneForm,
    SessionTimeoutForm,
    TimeZoneForm,
)
from security.models import IPAllowlistEntry, SMSDevice
from security.sudo import sudo_required

ENROL_KEY = "accounts.enrol"


def _notice(request: HttpRequest, level: int, text: str, *, section: str) -> None:
    """A confirmation or refusal shown inside the security page's `section` (templates/
    _section_messages.html), where the browser lands after _to_section, not at the page's top."""
    messages.add_message(request, level, text, extra_tags=f"section-{section}")


def _to_section(section: str) -> HttpResponse:
    return redirect(reverse("security:security") + f"#{section}")


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
        "time_zone_form": TimeZoneForm(current=user.time_zone),
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
                initial={
                    "scope": scope,
                    "entries": selectors.ip_allowlist_text(account_id=account.pk, scope=scope),
                },
            )
            for scope in (IPAllowlistEntry.Scope.PORTAL, IPAllowlistEntry.Scope.API)
        ]
        context["current_ip"] = get_client_ip(request)
    return render(request, "security/security.html", context)


def _end_others_if_asked(request: HttpRequest, form) -> None:
    if form.cleaned_data.get("end_other_sessions"):
        count = services.sessions_end_others(
            user=request.user,
            current_session_key=request.session.session_key,
            context=AuditContext.from_request(request),
        )
        if count:
            messages.info(request, f"Signed out {counted(count, 'other session')}.")


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "security/two_factor_setup.html",
        {
            "sms_device": SMSDevice.objects.filter(user=request.user, confirmed=True).first(),
            "totp_device": TOTPDevice.objects.filter(user=request.user, confirmed=True).first(),
            "required": services.two_factor_required(request.user),
        },
    )


# Every change of a second factor, and the backup codes, need a recent authentication (sudo mode:
# security/sudo.py) instead of a password typed on each page: one check, the same on every page.


@sudo_required
def two_factor_sms(request: HttpRequest) -> HttpResponse:
    user = request.user
    has_sms = SMSDevice.objects.filter(user=user, confirmed=True).exists()
    form = PhoneForm(request.POST or None, initial={"phone": user.phone})
    if request.method == "POST" and form.is_valid():
        challenge = secrets.token_urlsafe(24)
        try:
            device = services.sms_device_start(
                user=user,
                phone=form.cleaned_data["phone"],
                challenge=challenge,
                context=AuditContext.from_request(request),
            )
        except ApplicationError as exc:
            apply_form_error(form, exc)
        else:
            request.session[ENROL_KEY] = {"device": device.pk, "challenge": challenge}
            messages.success(request, f"We sent a code to {device.phone}.")
            return redirect("security:two-factor-sms-confirm")
    return render(request, "security/two_factor_sms.html", {"form": form, "has_sms": has_sms})


@sensitive_post_parameters("code")
@sudo_required
@never_cache  # the first backup codes on the page: no copy in any cache
def two_factor_sms_confirm(request: HttpRequest) -> HttpResponse:
    enrol = request.session.get(ENROL_KEY)
    device = SMSDevice.objects.filter(user=request.user, pk=(enrol or {}).get("device"), confirmed=False).first()
    if device is None:
        return redirect("security:two-factor-sms")
    form = EnrolCodeForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "resend":
        try:
            services.otp_sms_send(
                device_id=device.pk, challenge=enrol["challenge"], context=AuditContext.from_request(request)
            )
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "A new code is on its way.")
        return redirect("security:two-factor-sms-confirm")
    if request.method == "POST" and form.is_valid():
        try:
            device = services.sms_device_confirm(
                user=request.user,
                device_id=device.pk,
                code=form.cleaned_data["code"],
                challenge=enrol["challenge"],
                context=AuditContext.from_request(request),
            )
        except ApplicationError as exc:
            apply_form_error(form, exc)
        else:
            request.session.pop(ENROL_KEY, None)
            return _enrolled(request, form, device)
    return render(request, "security/two_factor_sms_confirm.html", {"form": form, "device": device})


def _enrolled(request: HttpRequest, form, device) -> HttpResponse:
    from django_otp import login as otp_login

    # This session has just proved the second factor: a new session key for it (a key known
    # before, from a confined required-2FA session say, must not inherit the verified state).
    request.session.cycle_key()
    otp_login(request, device)
    _end_others_if_asked(request, form)
    messages.success(request, "Two-factor sign-in is on.")
    if services.backup_codes_left(request.user) == 0:
        codes = services.backup_codes_regenerate(
            user=request.user, context=AuditContext.from_request(request), alert=False
        )
        return render(request, "security/backup_codes.html", {"codes": codes, "first_time": True})
    return redirect("security:security")


@sensitive_post_parameters("code")
@sudo_required
@never_cache  # a secret or backup codes on the page: no copy in any cache
def two_factor_totp(request: HttpRequest) -> HttpResponse:
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if request.method == "GET" or device is None:
        device = services.totp_device_start(user=user)
        form = EnrolCodeForm()
    else:
        form = EnrolCodeForm(request.POST)
        if form.is_valid():
            try:
                device = services.totp_device_confirm(
                    user=user,
                    device_id=device.pk,
                    code=form.cleaned_data["code"],
                    context=AuditContext.from_request(request),
                )
            except ApplicationError as exc:
                apply_form_error(form, exc)
            else:
                return _enrolled(request, form, device)
    return render(
        request,
        "security/two_factor_totp.html",
        {
            "form": form,
            "qr_svg": services.totp_config_svg(device),
            "secret": services.totp_secret_base32(device),
        },
    )


@sudo_required
@never_cache  # a secret or backup codes on the page: no copy in any cache
def backup_codes(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        codes = services.backup_codes_regenerate(user=request.user, context=AuditContext.from_request(request))
        return render(request, "security/backup_codes.html", {"codes": codes})
    return render(request, "security/backup_codes_confirm.html")


@sudo_required
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    form = DisableTwoFactorForm(request.POST if request.method == "POST" else None)  # an unticked box: empty
    if form.is_bound and form.is_valid():
        try:
            services.two_factor_disable(user=request.user, context=AuditContext.from_request(request))
        except ApplicationError as exc:
            apply_form_error(form, exc)
        else:
            _end_others_if_asked(request, form)
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("security:security")
    return render(request, "security/two_factor_disable.html", {"form": form})


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_set(
                user=request.user,
                new_password=form.cleaned_data["new_password1"],
                context=AuditContext.from_request(request),
                keep_session_key=request.session.session_key,
            )
        except ApplicationError as exc:
            for error in (exc.errors or {}).get("password", [exc.detail]):
                form.add_error("new_password1", error)
        else:
            update_session_auth_hash(request, request.user)  # this session stays, every other one ends
            messages.success(request, "Your password is changed. Your other sessions were signed out.")
            return redirect("security:security")
    return render(
        request,
        "security/password_change.html",
        {"form": form, "forced": services.password_change_forced(request.user)},
    )


@require_POST
@login_required
def session_timeout(request: HttpRequest) -> HttpResponse:
    form = SessionTimeoutForm(request.POST, choices=services.session_timeout_choices(request.user))
    if form.is_valid():
        services.session_timeout_set(
            user=request.user, minutes=form.cleaned_data["minutes"], context=AuditContext.from_request(request)
        )
        request.session.set_expiry(form.cleaned_data["minutes"] * 60)
        _notice(request, messages.SUCCESS, "Your inactivity timeout is saved.", section="sessions")
    else:
        _notice(request, messages.ERROR, "Choose one of the offered timeouts.", section="sessions")
    return _to_section("sessions")


@require_POST
@login_required
def time_zone(request: HttpRequest) -> HttpResponse:
    form = TimeZoneForm(request.POST, current=request.user.time_zone)
    if form.is_valid():
        services.user_time_zone_set(
            user=request.user, time_zone=form.cleaned_data["time_zone"], context=AuditContext.from_request(request)
        )
        _notice(request, messages.SUCCESS, f"Times are now shown in {request.user.time_zone}.", section="preferences")
    else:
        _notice(request, messages.ERROR, "Choose a time zone from the list.", section="preferences")
    return _to_section("preferences")


@require_POST
@login_required
def session_revoke(request: HttpRequest) -> HttpResponse:
    key = selectors.session_key_for_public_id(user=request.user, public_id=request.POST.get("session", ""))
    if key is None:
        _notice(request, messages.ERROR, "That session has already ended.", section="sessions")
    elif key == request.session.session_key:
        _notice(request, messages.ERROR, "This is your current session: use Sign out instead.", section="sessions")
    else:
        services.session_revoke(user=request.user, session_key=key, context=AuditContext.from_request(request))
        _notice(request, messages.SUCCESS, "The session is signed out.", section="sessions")
    return _to_section("sessions")


@require_POST
@login_required
def sessions_end_others(request: HttpRequest) -> HttpResponse:
    count = services.sessions_end_others(
        user=request.user,
        current_session_key=request.session.session_key,
        context=AuditContext.from_request(request),
    )
    _notice(request, messages.SUCCESS, f"Signed out of {counted(count, 'other session')}.", section="sessions")
    return _to_section("sessions")


@require_POST
@login_required
def device_forget(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.known_device_forget(user=request.user, device_pk=pk, context=AuditContext.from_request(request))
    except ApplicationError as exc:
        _notice(request, messages.ERROR, exc.detail, section="devices")
    else:
        _notice(
            request,
            messages.SUCCESS,
            "The device is forgotten: signing in from it again will send an alert.",
            section="devices",
        )
    return _to_section("devices")


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
            account=request.user.account,
            data=form.cleaned_data,
            actor=request.user,
            context=AuditContext.from_request(request),
        )
        _notice(request, messages.SUCCESS, "The account's security policy is saved.", section="policy")
    else:
        for field, errors in form.errors.items():
            for error in errors:
                _notice(
                    request,
                    messages.ERROR,
                    f"{form.fields[field].label if field in form.fields else ''} {error}".strip(),
                    section="policy",
                )
    return _to_section("policy")


@login_required
def ip_allowlist(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    if request.method != "POST":
        return _to_section("allowlist")
    scope = request.POST.get("scope_name", "")
    if scope not in IPAllowlistEntry.Scope.values:
        return _to_section("allowlist")
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
                    context=AuditContext.from_request(request),
                    confirm_self_lockout=form.cleaned_data["confirm_self_lockout"],
                )
            except ApplicationError as exc:
                form.add_error("confirm_self_lockout" if exc.code == "self_lockout" else None, exc.detail)
            else:
                label = IPAllowlistEntry.Scope(scope).label
                saved = f"The {label} allowlist is saved ({counted(len(entries), 'entry', 'entries')})."
                _notice(request, messages.SUCCESS, saved, section="allowlist")
                return _to_section("allowlist")
    return render(
        request,
        "security/ip_allowlist_edit.html",
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
                event.label,  # last: the columns before it keep their places for existing scripts
            ]
            for event in events.iterator(chunk_size=1000)
        )
        header = ["time_utc", "action", "actor", "token", "ip", "user_agent", "object", "details", "event"]
        return streaming_csv("audit-log.csv", header, rows)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "security/audit_log.html", {"form": form, "page": page, "query": query.urlencode()})
