"""The legacy parameter endpoint (reference 002): `GET|POST /smsapi/send?smsUser=&smsKey=&to=&message=`.

Same credential check, IP allowlist, scope, rate limit and sending service as the REST API. The
answer is plain text by default (`OK <message id>` or `ERROR <code>: <detail>`), JSON with
`format=json`. POST is preferred: a key in a query string ends up in access logs.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.parsers import FormParser
from rest_framework.response import Response

from apikeys.api import ApiView
from apikeys.authentication import BaseAuthentication, authenticate_credential, guarded, note_use
from core.errors import ApplicationError
from core.renderers import ApiJSONParser, ApiJSONRenderer, ApiMultiPartParser
from messaging.services import message_submit


def request_param(request, name: str):
    """A parameter: from a POST's (or PUT's) body, or from the query string (SPEC §5 writes the
    call as `POST /smsapi/send?smsUser=&…`), the body winning when both give it. Also read by the
    SMSAPI dialect (compat/smsapi)."""
    if request.method in ("POST", "PUT") and hasattr(request.data, "get"):
        value = request.data.get(name)
        if value not in (None, ""):
            return value
    return request.query_params.get(name)


class ParameterAuthentication(BaseAuthentication):
    @guarded
    def authenticate(self, request):
        user, key = request_param(request, "smsUser"), request_param(request, "smsKey")
        if not user and not key:
            raise exceptions.NotAuthenticated("Give smsUser and smsKey: an API credential's key id and secret.")
        if not user or not key:
            raise exceptions.AuthenticationFailed("Give both smsUser and smsKey.")
        auth = authenticate_credential(str(user), str(key))
        note_use(request, auth)
        return auth.user, auth

    def authenticate_header(self, request):
        return 'Basic realm="api"'


class LegacySendApi(ApiView):
    authentication_classes = [ParameterAuthentication]
    renderer_classes = [ApiJSONRenderer]
    parser_classes = [FormParser, ApiMultiPartParser, ApiJSONParser]
    required_scopes = {"GET": "messages:send", "POST": "messages:send"}
    schema = None  # documented in the README, not part of the REST API's OpenAPI document
    http_method_names = ["get", "post", "options"]  # not HEAD: Django would send the SMS for it

    def initial(self, request, *args, **kwargs):
        _redact_query_key(request)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        return _plain(self.request, response)

    def _send(self, request):
        to, text = request_param(request, "to") or "", request_param(request, "message") or ""
        sender = request_param(request, "from") or None
        if not isinstance(to, str) or not isinstance(text, str) or not isinstance(sender, str | None):
            raise ApplicationError("`to`, `message` and `from` are text.", code="invalid_request")
        if not to or not text:
            raise ApplicationError("Give `to` and `message`.", code="invalid_request")
        if "\x00" in to + text + (sender or ""):
            raise ApplicationError("Null characters are not allowed.", code="invalid_request")
        auth = request.auth
        result = message_submit(
            account_id=auth.account.pk,
            user=auth.user,
            caller=auth.caller,
            to=[number for number in str(to).replace(";", ",").split(",") if number.strip()],
            text=str(text),
            sender=sender,
            test_mode=auth.is_test,
            account=auth.account,
        )
        body = {
            "status": "OK",
            "batch_id": str(result.batch_id),
            "ids": [str(m.id) for m in result.messages],
            "cost": f"{result.total_cost:.4f}",
            "balance": f"{result.balance:.4f}",
        }
        return _plain(request, Response(body, status=200))

    def get(self, request):
        return self._send(request)

    def post(self, request):
        return self._send(request)


def _redact_query_key(request) -> None:
    """Django logs every 4xx and 5xx answer with the request, whose repr is the full path: once
    the parameters are parsed, the raw query string keeps `smsKey` only as `[redacted]`."""
    django_request = request._request
    params = django_request.GET  # parsed (and kept) from the original query string first
    if "smsKey" in params:
        redacted = params.copy()
        redacted.setlist("smsKey", ["[redacted]"])
        django_request.META["QUERY_STRING"] = redacted.urlencode(safe="[]")


def _plain(request, response):
    """Plain text unless `format=json` was asked for."""
    try:
        wants_json = request_param(request, "format") == "json"
    except (exceptions.APIException, RequestDataTooBig):  # the body that could not be read
        wants_json = request.query_params.get("format") == "json"
    if wants_json:
        return response
    data = response.data or {}
    if response.status_code < 400:
        text = "OK " + ",".join(data.get("ids", [])) + "\n"
    else:
        text = f"ERROR {data.get('code', 'error')}: {data.get('detail', '')}\n"
    # An error may quote the request back, lone surrogates included: escaped, never a 500.
    plain = HttpResponse(
        text.encode("utf-8", "backslashreplace"), status=response.status_code, content_type="text/plain; charset=utf-8"
    )
    for header in ("Retry-After", "WWW-Authenticate", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        if header in response:
            plain[header] = response[header]
    return plain


legacy_send = csrf_exempt(LegacySendApi.as_view())
