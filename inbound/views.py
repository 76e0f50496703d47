"""The inbox (`view_messages`): SMS received on the account's numbers, each opening the
conversation with its sender and a reply (`send_sms`); the STOP/START reply setting
(`manage_contacts`)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from audit.context import AuditContext
from core.errors import ApplicationError, raise_for_page
from core.forms import apply_form_error, form_submit
from core.pagination import portal_page
from core.phone import parse_recipient
from inbound import selectors
from inbound.forms import InboxFilterForm, ReplyForm, ReplySettingsForm
from inbound.services import inbound_reply, inbound_settings_update
from messaging.pricing import PriceList
from messaging.views import send_summary


def price_of(phone: str):
    """Points per part of a message to `phone` (the reply's live counter)."""
    parsed = parse_recipient(phone)
    prices = PriceList()
    return prices.per_segment(parsed[1]) if parsed is not None else prices.default


def _membership(request: HttpRequest, permission: str):
    membership = getattr(request.user, "membership", None)
    if membership is None or not membership.has_permission(permission):
        raise PermissionDenied
    return membership


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    membership = _membership(request, "view_messages")
    numbers = selectors.account_numbers(account_id=membership.account_id)
    form = InboxFilterForm(request.GET or None, numbers=numbers)
    filters = form.cleaned_data if form.is_valid() else {}
    received = selectors.inbound_list(
        account_id=membership.account_id,
        search=filters.get("q") or "",
        recipient=filters.get("to") or "",
        since=filters.get("since"),
        until=filters.get("until"),
    )
    page, query = portal_page(request, received)
    return render(
        request,
        "inbound/inbox.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "numbers": numbers,
            "filtered": any(filters.values()),
            "can_configure": membership.has_permission("manage_contacts"),
        },
    )


@login_required
def conversation(request: HttpRequest, message_id) -> HttpResponse:
    membership = _membership(request, "view_messages")
    message = selectors.inbound_get(account_id=membership.account_id, message_id=message_id)
    if message is None:
        raise Http404
    can_reply = membership.has_permission("send_sms")
    form = ReplyForm(request.POST or None)
    if request.method == "POST":
        if not can_reply:
            raise PermissionDenied
        if form.is_valid():
            try:
                result = inbound_reply(
                    account_id=membership.account_id,
                    user=request.user,
                    message_id=message.pk,
                    text=form.cleaned_data["text"],
                    caller=f"user:{request.user.pk}",
                )
            except ApplicationError as exc:
                raise_for_page(exc)
                apply_form_error(form, exc, detail_on_field=True)
            else:
                messages.success(request, send_summary(result.messages, result.total_cost))
                return redirect("inbound:conversation", message_id=message.pk)
    entries = selectors.conversation(user=request.user, account_id=membership.account_id, phone=message.sender)
    return render(
        request,
        "inbound/conversation.html",
        {
            "message": message,
            "entries": entries,
            "form": form,
            "can_reply": can_reply,
            "price": price_of(message.sender),
        },
    )


@login_required
def reply_settings(request: HttpRequest) -> HttpResponse:
    membership = _membership(request, "manage_contacts")
    current = selectors.reply_settings(account_id=membership.account_id)
    initial = {name: getattr(current, name) for name in ("confirmation_reply", "opt_out_reply", "opt_in_reply")}
    form = ReplySettingsForm(request.POST or None, initial=initial)
    saved = form_submit(
        request,
        form,
        lambda data: inbound_settings_update(
            account_id=membership.account_id, context=AuditContext.from_request(request), **data
        ),
        done="Saved.",
        to="inbound:settings",
    )
    return saved or render(request, "inbound/settings.html", {"form": form})
