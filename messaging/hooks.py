"""Inbound calls from the gateway (not portal pages, not the customer API)."""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.ip import get_client_ip, parse_ip
from core.ip_networks import contains, parse_networks
from messaging.backends.kannel import dlr_token_valid
from messaging.services import dlr_record

logger = logging.getLogger(__name__)


def kannel_source_allowed(request: HttpRequest) -> bool:
    """Whether the request comes from one of Kannel's hosts (`KANNEL_DLR_ALLOWED_IPS`, by the one
    client-IP resolver): the check of both gateway hooks, delivery reports and inbound SMS."""
    return contains(parse_networks(settings.KANNEL_DLR_ALLOWED_IPS), parse_ip(get_client_ip(request)))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def kannel_dlr(request: HttpRequest) -> HttpResponse:
    """Kannel's dlr-url callback: ?id=<message>&t=<token>&status=<%d>."""
    if not kannel_source_allowed(request):
        logger.warning("delivery report refused from %s", get_client_ip(request))
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    params = request.GET if request.method == "GET" else request.POST
    message_id, token, status = params.get("id", ""), params.get("t", ""), params.get("status", "")
    if not message_id or not token or not dlr_token_valid(message_id, token):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    try:
        kannel_status = int(status)
    except ValueError:
        return HttpResponse("bad status\n", status=400, content_type="text/plain")
    outcome = dlr_record(message_id=message_id, kannel_status=kannel_status)
    return HttpResponse(f"{outcome}\n", content_type="text/plain")
