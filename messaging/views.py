from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contacts import selectors as contact_selectors
from core.csv_export import streaming_csv
from core.errors import ApplicationError
from core.forms import FORM_NONCE, form_nonce_first, form_nonce_key, form_nonce_new, form_nonce_release
from core.pagination import portal_page
from core.phone import national_hint
from core.text import counted, points_label, points_plain
from messaging import selectors, windows
from messaging.billing import low_balance_context
from messaging.forms import MessageFilterForm, SenderNameForm, SendForm
from messaging.pricing import PriceList
from messaging.services import message_cancel, message_send_test, message_submit, sender_name_request
from messaging.services.delivery import OPTED_OUT
from messaging.services.recipients import send_quote
from messaging.services.submit import sending_window_opening


def _membership(request: HttpRequest):
    membership = getattr(request.user, "membership", None)
    if membership is None:
        raise PermissionDenied
    return membership


@login_required
@require_POST
def send_test_sms(request):
    try:
        message = message_send_test(user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Test message queued to {message.recipient}. Its status appears below.")
    return redirect("dashboard")


def send_summary(sent: list, total_cost: Decimal) -> str:
    """What the page says after a send: how many went ahead (in what state), what it cost, and how
    many were skipped because the number opted out."""
    skipped = sum(1 for message in sent if message.error_code == OPTED_OUT)
    going = [message for message in sent if message.error_code != OPTED_OUT]
    if not going:
        return f"Nothing sent: {'the recipient has' if skipped == 1 else f'all {skipped} recipients have'} opted out."
    state = going[0].get_status_display().lower()
    done = f"{counted(len(going), 'message')} {state}: {points_label(total_cost)}."
    if skipped:
        done += f" {skipped:,} skipped: opted out (not charged)."
    return done


def window_summary(sent: list, requested: datetime | None, membership, zone_name: str) -> str:
    """Why messages sent now (or for `requested`) were scheduled later: the sub-user's sending
    window was closed then. Empty when they leave when asked."""
    scheduled = next((message.scheduled_at for message in sent if message.error_code != OPTED_OUT), None)
    if scheduled is None or scheduled == requested or not windows.has_window(membership):
        return ""
    return (
        f"Scheduled for {windows.local_moment(scheduled, zone_name)}: "
        f"{'now' if requested is None else 'the time you chose'} is outside your sending window "
        f"({windows.window_describe(membership)})."
    )


def _send_membership(request: HttpRequest):
    membership = _membership(request)
    if not membership.has_permission("send_sms"):
        raise PermissionDenied
    return membership


def _send_form(request: HttpRequest, membership) -> SendForm:
    senders = selectors.sender_names_allowed(account_id=membership.account_id, membership=membership)
    groups = None
    if membership.has_permission("view_contacts"):
        # Sending to a group shows its numbers in the log: only for members who may see contacts.
        account_groups = contact_selectors.group_list(account_id=membership.account_id)
        groups = [(g.pk, f"{g.name} ({g.contact_count})") for g in account_groups]
    region = membership.account.default_country
    return SendForm(request.POST or None, senders=senders, groups=groups, region=region)


ALREADY_SENT = "That form was already sent, so nothing more was sent: its messages are in the log below."
FORM_EXPIRED = "The form had expired: please check it and send it again."


@login_required
def send(request: HttpRequest) -> HttpResponse:
    membership = _send_membership(request)
    account = membership.account
    show_balance = selectors.balance_visible(membership)
    form = _send_form(request, membership)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        quote = send_quote(
            account_id=account.pk,
            to=data["recipients"],
            to_groups=data.get("groups") or None,
            text=data["text"],
            region=account.default_country,
        )
        if "edit" in request.POST:  # back from the confirmation step to the form, as it was
            pass
        elif quote.needs_confirmation and not quote.error and not quote.invalid and not _confirmed(request, quote):
            return render(request, "messaging/send_confirm.html", _confirm_context(request, form, quote))
        elif not form_nonce_first(request):
            if form_nonce_key(request):
                messages.info(request, ALREADY_SENT)
                return redirect("messaging:log")
            form.add_error(None, FORM_EXPIRED)
        else:
            try:
                result = message_submit(
                    account_id=account.pk,
                    user=request.user,
                    caller=f"user:{request.user.pk}",
                    to=data["recipients"],
                    to_groups=data.get("groups") or None,
                    text=data["text"],
                    sender=data["sender"] or None,
                    scheduled_at=data["scheduled_at"],
                    region=account.default_country,
                )
            except ApplicationError as exc:
                form_nonce_release(request)
                _refusal_on_form(form, exc, region=account.default_country)
            else:
                done = send_summary(result.messages, result.total_cost)
                if show_balance:
                    done += f" Balance {points_label(result.balance)}."
                deferred = window_summary(result.messages, data["scheduled_at"], membership, request.user.time_zone)
                messages.success(request, f"{done} {deferred}".strip())
                return redirect(f"{reverse('messaging:log')}?batch={result.batch_id}")
    return render(
        request,
        "messaging/send.html",
        {
            "form": form,
            "price": PriceList().default,
            "balance": account.balance if show_balance else None,
            "form_nonce": form_nonce_new(),
            "window": _window_notice(membership, request.user.time_zone),
            **low_balance_context(membership),
        },
    )


def _refusal_on_form(form: SendForm, exc: ApplicationError, *, region: str) -> None:
    typed = form.cleaned_data.get("recipients") or []  # (add_error takes the field from cleaned_data)
    for field, errors in (exc.errors or {}).items():
        target = {"to": "recipients", "to_groups": "groups"}.get(field, field)
        for error in errors[:5]:
            form.add_error(target if target in form.fields else None, error)
    if not exc.errors or exc.code in ("insufficient_credit", "monthly_limit_reached", "sender_not_allowed"):
        form.add_error(None, exc.detail)
    if exc.code == "invalid_recipients":
        hint = national_hint(typed, region)
        if hint:
            form.add_error("recipients", hint)


def _confirmed(request: HttpRequest, quote) -> bool:
    """The confirmation step was answered for exactly this count and cost (if either changed
    meanwhile, a new price or a group's new contact, it is asked again)."""
    answered = (request.POST.get("confirm_messages"), request.POST.get("confirm_cost"))
    return answered == (str(quote.messages), str(quote.cost))


def _confirm_context(request: HttpRequest, form: SendForm, quote) -> dict:
    nonce = request.POST.get(FORM_NONCE, "")
    return {
        "form": form,
        "quote": quote,
        "changed": "confirm_messages" in request.POST,
        "form_nonce": nonce if 16 <= len(nonce) <= 64 else form_nonce_new(),
    }


def _window_notice(membership, zone_name: str) -> dict | None:
    """The sub-user's sending window, and when a message sent now would leave if it is closed."""
    if not windows.has_window(membership):
        return None
    opening = sending_window_opening(membership, timezone.now())
    return {
        "window": windows.window_describe(membership),
        "opening": windows.local_moment(opening, zone_name) if opening is not None else "",
    }


@login_required
@require_POST
def send_preview(request: HttpRequest) -> JsonResponse:
    """The send page's counter, as the user types and ticks (static/js/segments.js): its distinct
    recipients, the opted-out and invalid ones, the messages and their cost, by the rules the send
    then charges by. CSRF-protected like every POST; the groups are the member's account's."""
    membership = _send_membership(request)
    form = _send_form(request, membership)
    form.is_valid()
    data = form.cleaned_data
    region = membership.account.default_country
    quote = send_quote(
        account_id=membership.account_id,
        to=data.get("recipients") or [],
        to_groups=data.get("groups") or None,
        text=data.get("text") or "",
        region=region,
    )
    return JsonResponse(
        {
            "recipients": quote.recipients,
            "messages": quote.messages,
            "opted_out": quote.opted_out,
            "invalid": quote.invalid[:100],
            "segments": quote.segments,
            "cost": points_plain(quote.cost),
            "confirm": quote.needs_confirmation,
            "summary": quote_summary(quote),
            "error": quote.error or " ".join(form.errors.get("groups", [])),
            "hint": national_hint(quote.invalid, region),
        }
    )


def quote_summary(quote) -> str:
    """The counter's line, e.g. "3 recipients · 1 opted out (free) · 2 messages for 4 points · not
    valid: 0123"; empty before a number is typed or a group ticked."""
    if not quote.recipients and not quote.invalid:
        return ""
    parts = [f"{quote.recipients:,} recipient{'s' if quote.recipients != 1 else ''}"]
    if quote.opted_out:
        parts.append(f"{quote.opted_out:,} opted out (free)")
    messages_label = f"{quote.messages:,} message{'s' if quote.messages != 1 else ''}"
    parts.append(f"{messages_label} for {points_label(quote.cost)}" if quote.segments else messages_label)
    if quote.invalid:
        parts.append(f"not valid: {', '.join(quote.invalid[:20])}{' …' if len(quote.invalid) > 20 else ''}")
    return " · ".join(parts)


@login_required
def message_log(request: HttpRequest) -> HttpResponse:
    _membership(request)
    form = MessageFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    messages_qs = selectors.message_list(
        user=request.user,
        status=filters.get("status") or "",
        recipient=filters.get("recipient") or "",
        batch_id=filters.get("batch"),
        since=filters.get("since"),
        until=filters.get("until"),
    )
    if request.GET.get("format") == "csv":
        return _csv(messages_qs)
    page, query = portal_page(request, messages_qs.only(*LIST_FIELDS))
    return render(request, "messaging/log.html", {"form": form, "page": page, "query": query})


LIST_FIELDS = ("id", "created_at", "recipient", "sender", "status", "segments", "cost", "batch_id", "scheduled_at")


CSV_COLUMNS = ["id", "created_at", "recipient", "sender", "status", "error_code", "segments", "encoding", "cost",
               "batch_id", "reference", "scheduled_at", "sent_at", "delivered_at", "text"]  # fmt: skip


def _csv(queryset) -> StreamingHttpResponse:
    """Every column in full, times in UTC (ISO 8601), the text as the pages show it (`shown_text`)."""
    fields = [("shown_text" if column == "text" else column) for column in CSV_COLUMNS]
    rows = queryset.values_list(*fields).iterator(chunk_size=2000)
    return streaming_csv("messages.csv", CSV_COLUMNS, rows)


@login_required
def message_detail(request: HttpRequest, message_id) -> HttpResponse:
    _membership(request)
    message = selectors.message_detail(user=request.user, message_id=message_id)
    if message is None:
        raise Http404
    return render(request, "messaging/detail.html", {"message": message})


@login_required
@require_POST
def message_cancel_view(request: HttpRequest, message_id) -> HttpResponse:
    membership = _membership(request)
    if selectors.message_detail(user=request.user, message_id=message_id) is None:
        raise Http404
    if not membership.has_permission("send_sms"):
        raise PermissionDenied
    try:
        message_cancel(account_id=membership.account_id, message_id=message_id, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "The message is canceled and its cost refunded.")
    return redirect("messaging:detail", message_id=message_id)


@login_required
def sender_names(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    form = SenderNameForm(request.POST or None)
    if request.method == "POST":
        if not membership.has_permission("send_sms"):
            raise PermissionDenied
        if form.is_valid():
            try:
                sender_name_request(
                    account=membership.account,
                    name=form.cleaned_data["name"],
                    note=form.cleaned_data["note"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error("name", exc.detail)
            else:
                messages.success(request, "Requested. You can use the name once our staff approve it.")
                return redirect("messaging:senders")
    return render(
        request,
        "messaging/senders.html",
        {
            "form": form,
            "senders": selectors.sender_names(account=membership.account),
            "default": settings.SMS_DEFAULT_SENDER,
        },
    )
