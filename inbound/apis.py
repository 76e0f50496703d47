"""The inbound API (SPEC §5): the caller's account's inbound SMS, newest first, and one of them."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from apikeys.api import ApiView, operation, problems
from core.errors import not_found
from core.pagination import KeysetPagination, page_of
from core.serializers import Representation, UtcDateTimeField
from inbound import selectors
from inbound.filters import InboundFilter

# `from` is a Python keyword: the class is built from a dict of its fields.
InboundOut = type(
    "InboundOut",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "__doc__": "An SMS received on one of the account's inbound numbers.",
        "id": serializers.UUIDField(),
        "from": serializers.CharField(source="sender", help_text="The sender, E.164 when it is a number."),
        "to": serializers.CharField(source="recipient", help_text="The inbound number (E.164 or a short code)."),
        "text": serializers.CharField(allow_blank=True),
        "received_at": UtcDateTimeField(),
    },
)
InboundPage = page_of(InboundOut, "InboundPage")
inbound_json = Representation(InboundOut)


def representations(account_id: int, ids) -> dict[str, dict]:
    """The account's inbound messages among `ids`, each as `GET /inbound/{id}` answers it, in one
    query (the webhooks' `message.received` data)."""
    messages = selectors.inbound_messages(account_id=account_id).filter(pk__in=list(ids))
    return {str(message.pk): inbound_json(message) for message in messages}


class InboundPagination(KeysetPagination):
    ordering = ("-received_at", "-id")


class InboundListApi(ApiView):
    required_scopes = {"GET": "messages:read"}

    @operation(
        "inbound_list",
        "List inbound messages",
        responses={200: InboundPage, **problems(400)},
        tag="inbound",
        description="SMS received on the account's inbound numbers, newest first, cursor-paginated. "
        "Requires the `messages:read` scope.",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.STR, description="The sender (E.164), exactly."),
            OpenApiParameter("to", OpenApiTypes.STR, description="The inbound number, exactly."),
            OpenApiParameter("received_after", OpenApiTypes.DATETIME),
            OpenApiParameter("received_before", OpenApiTypes.DATETIME),
            *InboundPagination.parameters(),
        ],
    )
    def get(self, request):
        messages = selectors.inbound_messages(account_id=request.auth.account.pk)
        messages = InboundFilter.filtered(request.query_params, messages)
        paginator = InboundPagination()
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response(inbound_json.many(page))


class InboundApi(ApiView):
    required_scopes = {"GET": "messages:read"}

    @operation("inbound_get", "Get an inbound message", responses={200: InboundOut, **problems(404)}, tag="inbound")
    def get(self, request, message_id):
        message = selectors.inbound_get(account_id=request.auth.account.pk, message_id=message_id)
        if message is None:
            raise not_found("inbound message")
        return Response(inbound_json(message))
