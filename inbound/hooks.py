"""Kannel's `sms-service` calls this for every SMS sent to one of our numbers (SPEC §6):
`GET or POST /hooks/kannel/mo?secret=&from=&to=&text=&smsc=&ts=`. Answered before the portal's
middleware (portal/middleware.py), like the delivery-report hook."""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from audit.context import AuditContext
from core.ip import get_client_ip
from core.text import UNSTORABLE
from inbound.services import inbound_receive
from messaging.hooks import kannel_source_allowed

logger = logging.getLogger(__name__)

MAX_TEXT = 10_000  # a concatenated SMS of 255 parts is under 40,000 septets; no real one comes near
TS_MAX = 2**53


def _refused(status: int, reason: str) -> HttpResponse:
    return HttpResponse(f"{reason}\n", status=status, content_type="text/plain")


def mo_fields(params) -> dict | None:
    """The call's fields, checked; None when one is missing or cannot be stored."""
    values = {}
    for name, limit, required in (("from", 32, True), ("to", 32, True), ("text", MAX_TEXT, True), ("smsc", 64, False)):
        value = params.get(name)
        if value is None and required:
            return None
        value = value or ""
        if len(value) > limit or UNSTORABLE.search(value) or (required and name != "text" and not value.strip()):
            return None
        values[name] = value
    ts = params.get("ts", "").strip()
    try:
        values["ts"] = int(ts) if ts else None
    except ValueError:
        return None
    if values["ts"] is not None and not 0 <= values["ts"] < TS_MAX:
        return None
    return values


@csrf_exempt
@require_http_methods(["GET", "POST"])
def kannel_mo(request: HttpRequest) -> HttpResponse:
    """200 with an empty body (Kannel then sends no reply), for a new SMS and a repeat alike."""
    if not kannel_source_allowed(request):
        logger.warning("inbound SMS refused from %s: source address", get_client_ip(request))
        return _refused(403, "forbidden")
    params = request.GET.copy()
    if request.method == "POST":
        params.update(request.POST)
    expected = settings.KANNEL_MO_SECRET
    if not expected or not constant_time_compare(params.get("secret", ""), expected):
        logger.warning("inbound SMS refused from %s: wrong secret", get_client_ip(request))
        return _refused(403, "forbidden")
    values = mo_fields(params)
    if values is None:
        return _refused(400, "bad request")
    inbound_receive(
        sender=values["from"],
        recipient=values["to"],
        text=values["text"],
        smsc=values["smsc"],
        ts=values["ts"],
        context=AuditContext(ip=get_client_ip(request) or None, user_agent="Kannel sms-service"),
    )
    return HttpResponse(b"", content_type="text/plain")
