from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from compat.smsgate import dialect as smsgate
from core.charts import stacked_day_bars
from core.health import readiness
from core.problems import PROBLEMS, problem_type
from core.renderers import PROBLEM_CONTENT_TYPE
from messaging.billing import low_balance_context
from messaging.selectors import (
    balance_visible,
    delivery_rate,
    message_counts,
    messages_per_day,
    monthly_spend_by_member,
    recent_messages,
)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up. No dependency is touched: a load balancer polls this often."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Database, cache and broker reachable. The answer names the failing parts, never why."""
    checks = {name: "ok" if ok else "fail" for name, ok in readiness().items()}
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ok else "fail", "checks": checks}, status=200 if ok else 503)


SERVER_ERROR = "The server could not complete the request. It has been logged."


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(smsgate.PATH_PREFIX):  # the SMSGate dialect: its clients read its shape
        return JsonResponse(smsgate.error_body(SERVER_ERROR, status=500, code="server_error"), status=500)
    if request.path.startswith(tuple(settings.API_PATH_PREFIXES)):  # the API and the legacy endpoint
        body = {
            "type": problem_type("server_error"),
            "title": "Internal server error",
            "status": 500,
            "detail": SERVER_ERROR,
            "code": "server_error",
        }
        return JsonResponse(body, status=500, content_type=PROBLEM_CONTENT_TYPE)
    return render(request, "500.html", status=500)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = getattr(request.user, "membership", None)
    context: dict = {"membership": membership}
    if membership is not None:
        account = membership.account
        context |= {
            "account": account,
            # What the member may see: the account's messages with view_messages, else their own
            # (never the product's system messages); the balance and the spend by the rule of
            # balance_visible.
            "counts": message_counts(user=request.user),
            "recent": recent_messages(user=request.user),
            "show_balance": balance_visible(membership),
            **low_balance_context(membership),
        }
        now = timezone.now()
        days = messages_per_day(user=request.user, today=timezone.localdate(now))
        context |= {
            "days": days,
            "days_total": sum(day.total for day in days),
            "chart": stacked_day_bars(days),
            "delivery_rate": delivery_rate(days),
        }
        if context["show_balance"]:
            context["spend"] = monthly_spend_by_member(account_id=account.pk, now=now)
    return render(request, "portal/dashboard.html", context)


@require_safe
def api_errors(request: HttpRequest) -> HttpResponse:
    """The API's error codes, public: every problem document's `type` points at its entry here."""
    rows = sorted(PROBLEMS.items(), key=lambda item: (item[1].status, item[0]))
    return render(request, "portal/api_errors.html", {"problems": rows})
