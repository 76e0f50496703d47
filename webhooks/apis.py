"""The webhooks API (SPEC §5, scope `webhooks:manage`): thin views over webhooks.services."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.response import Response

from apikeys.api import PROBLEM_MEDIA_TYPE, ApiView, Problem, operation, problems
from audit.context import AuditContext
from core.pagination import KeysetPagination, page_of
from core.serializers import RefuseUnknownFields
from webhooks import selectors, services
from webhooks.models import EVENTS
from webhooks.serializers import EndpointCreated, EndpointOut, endpoint_created_json, endpoint_json

SCOPE = "webhooks:manage"
CONFLICT = {
    (409, PROBLEM_MEDIA_TYPE): OpenApiResponse(
        Problem,
        description="Too many endpoints (`too_many_endpoints`), or the endpoint is disabled (`endpoint_disabled`).",
    )
}


class EndpointIn(RefuseUnknownFields, serializers.Serializer):
    url = serializers.CharField(
        max_length=2000,
        help_text="https:// (http:// outside production); it must resolve to public addresses only.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENTS)), min_length=1, help_text="The events to receive."
    )


EndpointPage = page_of(EndpointOut, "EndpointPage")


class EndpointPagination(KeysetPagination):
    ordering = ("created_at", "id")


class WebhooksApi(ApiView):
    required_scopes = {"GET": SCOPE, "POST": SCOPE}

    @operation(
        "webhooks_list",
        "List webhook endpoints",
        responses={200: EndpointPage, **problems(400)},
        tag="webhooks",
        description="Oldest first, cursor-paginated; never a secret. Requires the `webhooks:manage` scope.",
        parameters=[*EndpointPagination.parameters()],
    )
    def get(self, request):
        paginator = EndpointPagination()
        page = paginator.paginate_queryset(
            selectors.endpoint_list(account_id=request.auth.account.pk), request, view=self
        )
        return paginator.get_paginated_response(endpoint_json.many(page))

    @operation(
        "webhooks_create",
        "Create a webhook endpoint",
        responses={201: EndpointCreated, **problems(400), **CONFLICT},
        tag="webhooks",
        request=EndpointIn,
        description="Events are POSTed to the URL, signed per the Standard Webhooks specification with the "
        "`whsec_` secret of this answer, which is shown here only. Requires the `webhooks:manage` scope.",
        examples=[
            OpenApiExample(
                "Delivery reports and replies",
                value={"url": "https://example.com/hooks/sms", "events": ["message.delivered", "message.received"]},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = EndpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.endpoint_create(
            account_id=request.auth.account.pk,
            url=data.validated_data["url"],
            events=data.validated_data["events"],
            context=AuditContext.from_api_request(request),
        )
        new.endpoint.secret = new.secret
        return Response(endpoint_created_json(new.endpoint), status=status.HTTP_201_CREATED)


class WebhookApi(ApiView):
    required_scopes = {"DELETE": SCOPE}

    @operation(
        "webhooks_delete",
        "Delete a webhook endpoint",
        responses={204: None, **problems(404)},
        tag="webhooks",
        description="Its pending deliveries go with it. Requires the `webhooks:manage` scope.",
    )
    def delete(self, request, endpoint_id):
        services.endpoint_delete(
            account_id=request.auth.account.pk, endpoint_id=endpoint_id, context=AuditContext.from_api_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookTestApi(ApiView):
    required_scopes = {"POST": SCOPE}

    @operation(
        "webhooks_test",
        "Send a test event",
        responses={202: None, **problems(404), **CONFLICT},
        tag="webhooks",
        request=None,
        description="Sends a `webhook.test` event, whose `data` is the endpoint, to this endpoint only. "
        "Requires the `webhooks:manage` scope.",
    )
    def post(self, request, endpoint_id):
        services.endpoint_test(
            account_id=request.auth.account.pk, endpoint_id=endpoint_id, context=AuditContext.from_api_request(request)
        )
        return Response(status=status.HTTP_202_ACCEPTED)
