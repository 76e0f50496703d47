"""The SMSGate-compatible API at `/3rdparty/v1/` (shared/COMPAT.md §A; docs/compatibility.md):
thin views on the API's base view (the request chain of SPEC §5, unchanged) over the existing
services and selectors. The dialect module maps requests in and answers and errors out."""

from django.urls import reverse
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response

from apikeys.api import ApiView
from apikeys.apis import key_of_caller
from apikeys.services import KeyChanged, access_token_issue, access_token_revoke
from compat.negotiation import JsonAlways
from compat.smsgate import dialect
from compat.smsgate.selectors import batch_find, batches_page, ended_at, reference_taken
from core.api import json_body
from core.errors import Conflict, NotFound, not_found
from core.health import readiness
from core.renderers import ApiJSONParser, ApiJSONRenderer
from messaging.models import Message
from messaging.services import message_submit, messages_cancel


class SmsGateView(ApiView):
    renderer_classes = [ApiJSONRenderer]
    parser_classes = [ApiJSONParser]
    content_negotiation_class = JsonAlways
    schema = None  # a provider's dialect, documented in docs/compatibility.md, not in our OpenAPI document

    def handle_exception(self, exc):
        return dialect.error_response(super().handle_exception(exc), renamed=isinstance(exc, dialect.DialectError))


class SmsGatePublicView(SmsGateView):
    """No key: the health checks, and the answers for what this service does not offer."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []


def _state(ident: str, messages: list[Message]) -> dict:
    return dialect.message_state(ident, messages, ended_at(messages))


# --- Access tokens --------------------------------------------------------------------------------


class TokenCreateApi(SmsGateView):
    def post(self, request):
        scopes, ttl = dialect.token_request(request.data)
        try:
            access = access_token_issue(parent=key_of_caller(request), scopes=scopes, ttl=ttl)
        except KeyChanged as changed:
            raise AuthenticationFailed(changed.detail) from None  # a 401 with WWW-Authenticate
        return Response(
            dialect.token_json(access), status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"}
        )


class TokenRevokeApi(SmsGateView):
    def delete(self, request, token_id):
        access_token_revoke(parent=key_of_caller(request), access_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Messages -------------------------------------------------------------------------------------


class MessagesApi(SmsGateView):
    required_scopes = {"POST": "messages:send", "GET": "messages:read"}

    def post(self, request):
        auth = request.auth
        wanted = dialect.send_request(json_body(request))
        client_id = wanted.client_id
        if client_id is not None and reference_taken(
            account_id=auth.account.pk, is_test=auth.is_test, reference=client_id
        ):
            raise dialect.duplicate_id()
        try:
            result = message_submit(
                account_id=auth.account.pk,
                user=auth.user,
                # A client's id is the account's (in this mode), whichever key sends it: the
                # idempotency record, under its lock, makes a second send with it a replay.
                caller=f"smsgate:{'test' if auth.is_test else 'live'}" if client_id else auth.caller,
                to=wanted.phone_numbers,
                text=wanted.text,
                scheduled_at=wanted.scheduled_at,
                reference=client_id or "",
                idempotency_key=f"smsgate:{client_id}" if client_id else None,
                test_mode=auth.is_test,
                account=auth.account,
            )
        except Conflict as conflict:
            if conflict.code == "idempotency_conflict":  # the same id with another message
                raise dialect.duplicate_id() from None
            raise
        if result.replayed:  # SMSGate's semantics: an id is never replayed
            raise dialect.duplicate_id()
        ident = client_id or str(result.batch_id)
        location = reverse("smsgate:message", kwargs={"message_id": ident})
        return Response(
            dialect.message_state(ident, result.messages),
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )

    def get(self, request):
        auth = request.auth
        total, page = batches_page(user=auth.user, is_test=auth.is_test, query=dialect.list_query(request.query_params))
        ended = ended_at([message for _, messages in page for message in messages])
        body = [dialect.message_state(ident, messages, ended) for ident, messages in page]
        return Response(body, headers={"X-Total-Count": str(total)})


class MessageApi(SmsGateView):
    required_scopes = {"GET": "messages:read", "DELETE": "messages:send"}

    def _batch(self, request, message_id: str) -> list[Message]:
        messages = batch_find(user=request.auth.user, is_test=request.auth.is_test, ident=message_id)
        if not messages:
            raise not_found("message")
        return messages

    def get(self, request, message_id):
        return Response(_state(message_id, self._batch(request, message_id)))

    def delete(self, request, message_id):
        """Cancel every message of the batch that has not left yet, each refunded as by
        `DELETE /api/v1/messages/{id}`; all of them or none."""
        messages = self._batch(request, message_id)
        cancelable = [m.pk for m in messages if m.status in (Message.Status.SCHEDULED, Message.Status.HELD)]
        if not cancelable:
            raise Conflict("Nothing in this message can be cancelled any more.", code="not_cancelable")
        messages_cancel(account_id=request.auth.account.pk, message_ids=cancelable, actor=request.auth.user)
        return Response(_state(message_id, self._batch(request, message_id)))


class DevicesApi(SmsGateView):
    required_scopes = {"GET": "messages:read"}

    def get(self, request):
        return Response([dialect.device_json(registered=request.auth.parent.created_at, now=timezone.now())])


# --- No key ---------------------------------------------------------------------------------------


class HealthApi(SmsGatePublicView):
    """`/health`, `/health/ready`, `/health/startup`: the checks of `/readyz`; `/health/live`: the
    process answers (touches nothing, as `/healthz`)."""

    checks = True

    def get(self, request):
        # Public (no key), so one round of checks a second at most per process; /readyz stays live.
        body, code = dialect.health_json(readiness(max_age=1) if self.checks else None)
        return Response(body, status=code)


class NotSupportedApi(SmsGatePublicView):
    """SMSGate features this service does not offer (inbox, webhooks, settings, logs, …): 501."""

    feature = "This feature"

    def _refuse(self, request, *args, **kwargs):
        raise dialect.not_supported(self.feature)

    get = post = put = patch = delete = options = _refuse


class NotFoundApi(SmsGatePublicView):
    """Any other path under `/3rdparty/`: SMSGate's error body, never an HTML page."""

    def _not_found(self, request, *args, **kwargs):
        raise NotFound(f"No SMSGate endpoint at {request.path}.", title="Not found")

    get = post = put = patch = delete = options = _not_found
