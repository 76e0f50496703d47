"""The Billing pages (SPEC §4.14): the balance and the ledger with its CSV, the monthly
statement, the price list, and the owner's low-balance warning. For the owner and the members
with `view_billing` (messaging.selectors.balance_visible); reads from messaging.selectors, the
one write through the ledger's services."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Membership
from audit.context import AuditContext
from core.csv_export import streaming_csv
from core.forms import form_submit
from core.pagination import portal_page
from core.text import points_label
from messaging import selectors
from messaging.forms import LedgerFilterForm, LowBalanceForm, StatementForm
from messaging.services.ledger import low_balance_below, low_balance_threshold_set


def _billing_member(request: HttpRequest) -> Membership:
    membership = getattr(request.user, "membership", None)
    if not selectors.balance_visible(membership):
        raise PermissionDenied
    return membership


def low_balance_context(membership: Membership | None) -> dict:
    """What the portal's low-balance notice needs (templates/messaging/_low_balance.html): shown
    to who may see the balance while it is below the owner's threshold."""
    if not selectors.balance_visible(membership):
        return {}
    account = membership.account
    return {"low_balance": low_balance_below(account.balance, account.low_balance_threshold), "account": account}


LEDGER_CSV_COLUMNS = ["created_at", "kind", "points", "balance_after", "note", "batch_id"]


@login_required
def ledger(request: HttpRequest) -> HttpResponse:
    membership = _billing_member(request)
    account = membership.account
    form = LedgerFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = selectors.ledger_entries(
        account_id=account.pk, month=filters.get("month"), kind=filters.get("kind") or ""
    )
    if form.is_bound and not form.is_valid():
        entries = entries.none()  # an unreadable filter matches nothing, rather than everything
    if request.GET.get("format") == "csv":
        rows = entries.values_list("created_at", "kind", "amount", "balance_after", "note", "batch_id")
        return streaming_csv("ledger.csv", LEDGER_CSV_COLUMNS, rows.iterator(chunk_size=2000))
    page, query = portal_page(request, entries)
    threshold_form = None
    if membership.is_owner:  # the owner's setting; members with view_billing see it
        threshold_form = LowBalanceForm(initial={"threshold": account.low_balance_threshold})
    return render(
        request,
        "messaging/billing.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "threshold_form": threshold_form,
            **low_balance_context(membership),
        },
    )


@login_required
@require_POST
def low_balance_threshold(request: HttpRequest) -> HttpResponse:
    membership = _billing_member(request)
    if not membership.is_owner:
        raise PermissionDenied
    form = LowBalanceForm(request.POST)

    def save(data) -> str:
        low_balance_threshold_set(
            account_id=membership.account_id,
            threshold=data["threshold"],
            actor=request.user,
            context=AuditContext.from_request(request),
        )
        if data["threshold"] is None:
            return "The low-balance warning is off."
        return f"Saved: you will be e-mailed when the balance falls below {points_label(data['threshold'])}."

    done = form_submit(request, form, save, done=lambda message: message, to="billing:ledger")
    if done is not None:
        return done
    account = membership.account
    return render(
        request,
        "messaging/billing_threshold.html",
        {"threshold_form": form, "account": account},
        status=400,
    )


@login_required
def statement(request: HttpRequest) -> HttpResponse:
    membership = _billing_member(request)
    this_month = timezone.now().date().replace(day=1)
    bound = "month" in request.GET
    form = StatementForm(request.GET if bound else None, initial={"month": this_month})
    if bound and not form.is_valid():
        return render(request, "messaging/statement.html", {"form": form, "statement": None}, status=400)
    month = form.cleaned_data["month"] if bound else this_month
    result = selectors.statement(account_id=membership.account_id, month=month)
    if request.GET.get("format") == "csv":
        rows = [
            ("opening_balance", "", result.opening),
            *((line.kind, line.count, line.points) for line in result.lines),
            ("closing_balance", "", result.closing),
        ]
        return streaming_csv(f"statement-{month:%Y-%m}.csv", ["line", "entries", "points"], rows)
    return render(
        request, "messaging/statement.html", {"form": form, "statement": result, "account": membership.account}
    )


@login_required
def prices(request: HttpRequest) -> HttpResponse:
    _billing_member(request)
    countries, default = selectors.price_list()
    return render(request, "messaging/prices.html", {"countries": countries, "default": default})
