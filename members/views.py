"""The Users pages: list, invite, edit, deactivate, invitations. Views validate and call members.services."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.sites.shortcuts import get_current_site
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Membership
from audit.context import AuditContext
from core.errors import ApplicationError, NotFound
from core.forms import apply_form_error
from core.text import points_plain
from members import selectors, services
from members.forms import InvitationAcceptForm, SubuserEditForm, SubuserInviteForm
from members.services import member_state
from messaging.selectors import approved_sender_names

MEMBERS_PER_PAGE = 25


BASELINE_SALT = "accounts.users.edit-baseline"


INVITATION_SESSION_KEY = "accounts.invitation_token"


INVITATION_URL_TOKEN = "set-password"  # noqa: S105 (a placeholder, as in Django's reset view)


def _manager(request: HttpRequest) -> Membership:
    if not selectors.can_manage_users(request.user):
        raise PermissionDenied
    return request.user.membership


def _member(request: HttpRequest, member_id: int) -> Membership:
    membership = selectors.member_get(account_id=_manager(request).account_id, membership_id=member_id)
    if membership is None:
        raise Http404
    return membership


def _own_limit(manager: Membership):
    return None if manager.is_owner else manager.monthly_limit


def _where(request: HttpRequest) -> dict:
    return {"domain": get_current_site(request).domain, "use_https": request.is_secure()}


@login_required
def users(request: HttpRequest) -> HttpResponse:
    manager = _manager(request)
    page = Paginator(selectors.member_list(account_id=manager.account_id), MEMBERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = selectors.member_rows(memberships=page.object_list, now=timezone.now())
    for row in rows:
        try:
            services.subuser_check_manageable(actor=request.user, membership=row["membership"])
        except ApplicationError as exc:
            row["manageable"], row["why_not"] = False, exc.detail
        else:
            row["manageable"], row["why_not"] = True, ""
    return render(
        request,
        "members/list.html",
        {"page": page, "rows": rows, "query": "", "only_owner": page.paginator.count <= 1, "manager": manager},
    )


@login_required
def user_invite(request: HttpRequest) -> HttpResponse:
    manager = _manager(request)
    form = SubuserInviteForm(
        request.POST or None,
        grantable=services.grantable_permissions(request.user),
        own_limit=_own_limit(manager),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.subuser_invite(
                actor=request.user,
                email=form.cleaned_data["email"],
                permissions=form.cleaned_data["permissions"],
                monthly_limit=form.cleaned_data["monthly_limit"],
                context=AuditContext.from_request(request),
                **_where(request),
            )
        except ApplicationError as exc:
            apply_form_error(form, exc)
        else:
            # The same answer whether or not the address already had a user (then the service
            # e-mailed that person instead): the page never tells which addresses have accounts.
            messages.success(
                request,
                f"An invitation is on its way to {form.cleaned_data['email']}. The link works once and for "
                f"{services.INVITATION_TIMEOUT.days} days.",
            )
            return redirect("members:users")
    return render(request, "members/invite.html", {"form": form})


def _edit_initial(membership: Membership) -> dict:
    return {
        "permissions": [name for name in Membership.PERMISSIONS if getattr(membership, name)],
        "monthly_limit": None if membership.monthly_limit is None else points_plain(membership.monthly_limit),
        "window_weekdays": membership.window_weekdays or [],
        "window_start": membership.window_start,
        "window_end": membership.window_end,
        "window_timezone": membership.window_timezone or "UTC",
        # The approved ones only, as the page offers (the service keeps the others).
        "allowed_senders": list(membership.allowed_senders.filter(status="approved").values_list("pk", flat=True)),
    }


def _comparable(values: dict) -> dict:
    """The edit form's values in one comparable, JSON-friendly shape."""

    def clock(value):
        return value.isoformat() if value is not None else None

    limit = values.get("monthly_limit")
    return {
        "permissions": sorted(values.get("permissions") or []),
        "monthly_limit": None if limit is None else str(Decimal(limit).normalize()),
        "window_weekdays": sorted(int(day) for day in values.get("window_weekdays") or []),
        "window_start": clock(values.get("window_start")),
        "window_end": clock(values.get("window_end")),
        "window_timezone": values.get("window_timezone") or "UTC",
        "allowed_senders": sorted(int(pk) for pk in values.get("allowed_senders") or []),
    }


def _baseline(request: HttpRequest, membership: Membership) -> dict:
    """What the page showed when its user started editing (signed into the form, so it is
    well-formed); a form without it (or a broken one) compares with the member as it is now."""
    try:
        baseline = signing.loads(request.POST.get("baseline", ""), salt=BASELINE_SALT)
        if isinstance(baseline, dict) and baseline.get("member") == membership.pk:
            return baseline["values"]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        pass
    return _comparable(_edit_initial(membership))


def _what_changed(baseline: dict, data: dict) -> dict:
    """The service's arguments for what this page's user changed, and only that: a change made
    meanwhile by another manager to another field (or another permission) is kept."""
    now = _comparable(data)
    changes: dict = {}
    before, after = set(baseline["permissions"]), set(now["permissions"])
    if before != after:
        changes["permissions"] = {name: name in after for name in before ^ after}
    for field in ("monthly_limit", "window_weekdays", "window_start", "window_end", "window_timezone"):
        if now[field] != baseline[field]:
            changes[field] = data[field]
    if now["allowed_senders"] != baseline["allowed_senders"]:
        changes["allowed_sender_ids"] = data["allowed_senders"]
    return changes


def _refused(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    if isinstance(exc, NotFound):
        raise Http404 from exc
    messages.error(request, exc.detail)
    return redirect("members:users")


@login_required
def user_edit(request: HttpRequest, member_id: int) -> HttpResponse:
    manager = _manager(request)
    membership = _member(request, member_id)
    try:
        services.subuser_check_manageable(actor=request.user, membership=membership)
    except ApplicationError as exc:
        return _refused(request, exc)
    senders = approved_sender_names(account_id=manager.account_id)
    form = SubuserEditForm(
        request.POST or None,
        initial=_edit_initial(membership),
        grantable=services.grantable_permissions(request.user),
        own_limit=_own_limit(manager),
        senders=senders,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.subuser_update(
                actor=request.user,
                membership_id=membership.pk,
                context=AuditContext.from_request(request),
                **_what_changed(_baseline(request, membership), form.cleaned_data),
            )
        except ApplicationError as exc:
            if isinstance(exc, NotFound):
                raise Http404 from exc
            apply_form_error(form, exc)
        else:
            messages.success(request, f"The access of {membership.user.email} is saved.")
            return redirect("members:users")
    return render(
        request,
        "members/edit.html",
        {
            "form": form,
            "member": membership,
            "state": member_state(membership.user),
            "senders": senders,
            "baseline": request.POST.get("baseline")
            or signing.dumps(
                {"member": membership.pk, "values": _comparable(_edit_initial(membership))}, salt=BASELINE_SALT
            ),
            "spent": membership.spent_in_month_of(timezone.now()),
        },
    )


def _confirm(request: HttpRequest, membership: Membership, **context) -> HttpResponse:
    """The page that asks before an action on a member the user may manage."""
    try:
        services.subuser_check_manageable(actor=request.user, membership=membership)
    except ApplicationError as exc:
        return _refused(request, exc)
    return render(request, "members/confirm.html", {"member": membership, **context})


def _act(request: HttpRequest, membership: Membership, service, done, **arguments) -> HttpResponse:
    """Calls a member service for the page, then back to the list with `done` (a text, or made from
    what the service returned), or with the refusal."""
    try:
        result = service(
            actor=request.user, membership_id=membership.pk, context=AuditContext.from_request(request), **arguments
        )
    except ApplicationError as exc:
        return _refused(request, exc)
    messages.success(request, done(result) if callable(done) else done)
    return redirect("members:users")


@require_http_methods(["GET", "POST"])
@login_required
def user_deactivate(request: HttpRequest, member_id: int) -> HttpResponse:
    membership = _member(request, member_id)
    if request.method == "GET":
        return _confirm(
            request,
            membership,
            title="Deactivate this user?",
            warning="They are signed out everywhere at once, their API keys are disabled and the access tokens "
            "those handed out end. You can reactivate them later; their keys stay disabled until you enable them "
            "on the API keys page.",
            button="Deactivate",
        )
    done = f"{membership.user.email} is deactivated: signed out, and their API keys disabled."
    return _act(request, membership, services.subuser_deactivate, done)


@require_POST
@login_required
def user_reactivate(request: HttpRequest, member_id: int) -> HttpResponse:
    membership = _member(request, member_id)
    done = (
        f"{membership.user.email} is active again and can sign in. Their API keys stay disabled: enable them on "
        "the API keys page if they should work again."
    )
    return _act(request, membership, services.subuser_reactivate, done)


@require_POST
@login_required
def user_invitation_resend(request: HttpRequest, member_id: int) -> HttpResponse:
    membership = _member(request, member_id)
    done = f"A new invitation is on its way to {membership.user.email}; earlier links stopped working."
    return _act(request, membership, services.subuser_invitation_resend, done, **_where(request))


@require_http_methods(["GET", "POST"])
@login_required
def user_invitation_cancel(request: HttpRequest, member_id: int) -> HttpResponse:
    membership = _member(request, member_id)
    if request.method == "GET":
        return _confirm(
            request,
            membership,
            title="Cancel this invitation?",
            warning="The invitation link stops working and the invited address is removed.",
            button="Cancel invitation",
        )
    return _act(
        request, membership, services.subuser_invitation_cancel, lambda email: f"The invitation of {email} is canceled."
    )


@sensitive_variables("token")
@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
def invitation_accept(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if token != INVITATION_URL_TOKEN:
        # Out of the URL (browser history, Referer) and into this browser's session.
        request.session[INVITATION_SESSION_KEY] = token
        return redirect("members:invitation-accept", uidb64=uidb64, token=INVITATION_URL_TOKEN)
    token = request.session.get(INVITATION_SESSION_KEY, "")
    user = services.invitation_user(uidb64=uidb64, token=token)
    if user is None:
        return render(request, "members/accept.html", {"validlink": False})
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_accept(
                uidb64=uidb64,
                token=token,
                password=form.cleaned_data["new_password1"],
                context=AuditContext.from_request(request),
            )
        except ApplicationError as exc:
            if exc.code == "invitation_invalid":
                request.session.pop(INVITATION_SESSION_KEY, None)
                return render(request, "members/accept.html", {"validlink": False})
            for error in (exc.errors or {}).get("password", [exc.detail]):
                form.add_error("new_password1", error)
        else:
            request.session.pop(INVITATION_SESSION_KEY, None)
            messages.success(request, "Your password is set. Sign in with your e-mail address and the new password.")
            return redirect("security:login")
    return render(
        request,
        "members/accept.html",
        {"validlink": True, "form": form, "email": user.email, "account_name": user.membership.account.name},
    )
