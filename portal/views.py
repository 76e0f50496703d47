import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.charts import stacked_day_bars
from core.problems import PROBLEMS, problem_type
from core.renderers import PROBLEM_CONTENT_TYPE
from messaging.selectors import (
    balance_visible,
    delivery_rate,
    message_counts,
    messages_per_day,
    monthly_spend_by_member,
    recent_messages,
)

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up. No dependency is touched: a load balancer polls this often."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    cache.set("readyz", "1", timeout=10)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return what was stored")


def _check_broker() -> None:
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Database, cache and broker reachable. The answer names the failing parts, never why."""
    checks = {}
    for name, check in (("database", _check_database), ("cache", _check_cache), ("broker", _check_broker)):
        try:
            check()
        except Exception:
            logger.exception("readiness check failed: %s", name)
            checks[name] = "fail"
        else:
            checks[name] = "ok"
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ok else "fail", "checks": checks}, status=200 if ok else 503)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(tuple(settings.API_PATH_PREFIXES)):  # the API and the legacy endpoint
        body = {
            "type": problem_type("server_error"),
            "title": "Internal server error",
            "status": 500,
            "detail": "The server could not complete the request. It has been logged.",
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
