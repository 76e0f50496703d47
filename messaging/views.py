from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contacts import selectors as contact_selectors
from core.csv_export import streaming_csv
from core.errors import ApplicationError
from core.pagination import portal_page
from core.text import counted, points_label
from messaging import selectors
from messaging.forms import MessageFilterForm, SenderNameForm, SendForm
from messaging.pricing import PriceList
from messaging.services import message_cancel, message_send_test, message_submit, sender_name_request
from messaging.services.delivery import OPTED_OUT


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


@login_required
def send(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    if not membership.has_permission("send_sms"):
        raise PermissionDenied
    show_balance = selectors.balance_visible(membership)
    senders = selectors.sender_names_allowed(account_id=membership.account_id, membership=membership)
    groups = None
    if membership.has_permission("view_contacts"):
        # Sending to a group shows its numbers in the log: only for members who may see contacts.
        account_groups = contact_selectors.group_list(account_id=membership.account_id)
        groups = [(g.pk, f"{g.name} ({g.contact_count})") for g in account_groups]
    form = SendForm(request.POST or None, senders=senders, groups=groups)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = message_submit(
                account_id=membership.account_id,
                user=request.user,
                caller=f"user:{request.user.pk}",
                to=data["recipients"],
                to_groups=data.get("groups") or None,
                text=data["text"],
                sender=data["sender"] or None,
                scheduled_at=data["scheduled_at"],
            )
        except ApplicationError as exc:
            for field, errors in (exc.errors or {}).items():
                target = {"to": "recipients", "to_groups": "groups"}.get(field, field)
                for error in errors[:5]:
                    form.add_error(target if target in form.fields else None, error)
            if not exc.errors or exc.code in ("insufficient_credit", "monthly_limit_reached", "sender_not_allowed"):
                form.add_error(None, exc.detail)
        else:
            done = send_summary(result.messages, result.total_cost)
            if show_balance:
                done += f" Balance {points_label(result.balance)}."
            messages.success(request, done)
            return redirect(f"{reverse('messaging:log')}?batch={result.batch_id}")
    return render(
        request,
        "messaging/send.html",
        {
            "form": form,
            "price": PriceList().default,
            "balance": membership.account.balance if show_balance else None,
        },
    )


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
