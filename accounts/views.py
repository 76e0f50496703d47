"""The account's settings page (owner only): the default country for national numbers."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.forms import AccountSettingsForm
from accounts.services import SETTINGS_FIELDS, account_settings_update
from audit.context import AuditContext
from core.forms import form_submit


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    membership = getattr(request.user, "membership", None)
    if membership is None or not membership.is_owner:
        raise PermissionDenied
    account = membership.account
    form = AccountSettingsForm(request.POST or None, initial={name: getattr(account, name) for name in SETTINGS_FIELDS})
    done = form_submit(
        request,
        form,
        lambda data: account_settings_update(
            account=account, data=data, actor=request.user, context=AuditContext.from_request(request)
        ),
        done="The account settings are saved.",
        to="accounts:settings",
    )
    return done or render(request, "accounts/settings.html", {"form": form})
