"""The contacts API (SPEC §5): contacts and groups of the caller's account, thin views over
contacts.services and contacts.selectors."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.response import Response

from apikeys.api import PROBLEM_MEDIA_TYPE, ApiView, Problem, operation, problems
from audit.context import AuditContext
from contacts import selectors, services
from contacts.filters import ContactFilter, OptOutFilter
from contacts.models import OptOut
from contacts.serializers import OptOutOut, opt_out_json
from core.errors import not_found
from core.ids import MAX_ID
from core.pagination import KeysetPagination, page_of
from core.serializers import RefuseUnknownFields, Representation, UtcDateTimeField

CONFLICT = {
    (409, PROBLEM_MEDIA_TYPE): OpenApiResponse(
        Problem, description="The number is already a contact (`contact_exists`), or the name a group (`group_exists`)."
    )
}
UNSUPPORTED_BODY = {
    (415, PROBLEM_MEDIA_TYPE): OpenApiResponse(Problem, description="The body is not JSON (`unsupported_media_type`).")
}


# --- Serializers: requests --------------------------------------------------------------------


class ContactIn(RefuseUnknownFields, serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="E.164, e.g. +447400123456 (normalised).")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    groups = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        max_length=1000,
        help_text="Ids of the account's groups the contact is in.",
    )


class ContactPatch(RefuseUnknownFields, serializers.Serializer):
    phone = serializers.CharField(max_length=32, required=False)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    groups = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=1000,
        help_text="Replaces the contact's groups.",
    )


class OptOutIn(RefuseUnknownFields, serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="E.164, e.g. +447400123456 (normalised).")


class GroupIn(RefuseUnknownFields, serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="Unique in the account, whatever the case.")


# --- Serializers: answers (one per resource, for the document and the bytes: core.serializers) ----


class ContactOut(serializers.Serializer):
    id = serializers.IntegerField()
    phone = serializers.CharField(help_text="E.164")
    name = serializers.CharField(allow_blank=True)
    groups = serializers.ListField(child=serializers.IntegerField(), source="group_ids", help_text="Group ids.")
    created_at = UtcDateTimeField()


class GroupOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    contact_count = serializers.IntegerField()


ContactPage = page_of(ContactOut, "ContactPage")
GroupPage = page_of(GroupOut, "GroupPage")
OptOutPage = page_of(OptOutOut, "OptOutPage")
contact_json = Representation(ContactOut)  # a contact with its `group_ids` (selectors.contact_group_ids)
group_json = Representation(GroupOut)  # a group with its `contact_count` (selectors.group_list)


class ContactPagination(KeysetPagination):
    ordering = ("-id",)


class GroupPagination(KeysetPagination):
    ordering = ("name", "id")


class OptOutPagination(KeysetPagination):
    ordering = ("-id",)


# --- Views ------------------------------------------------------------------------------------


class ContactsApi(ApiView):
    required_scopes = {"GET": "contacts:read", "POST": "contacts:write"}

    @operation(
        "contacts_list",
        "List contacts",
        responses={200: ContactPage, **problems(400)},
        tag="contacts",
        description="Newest first, cursor-paginated; `group` keeps the contacts of one group, `search` those "
        "whose name (any case) or number holds the text. Requires the `contacts:read` scope.",
        parameters=[
            OpenApiParameter("group", OpenApiTypes.INT, description="A group id: only its contacts."),
            OpenApiParameter("search", OpenApiTypes.STR, description="Part of a name or a number."),
            *ContactPagination.parameters(),
        ],
    )
    def get(self, request):
        contacts = ContactFilter.filtered(
            request.query_params, selectors.contact_list(account_id=request.auth.account.pk)
        )
        paginator = ContactPagination()
        page = paginator.paginate_queryset(contacts, request, view=self)
        selectors.contact_group_ids(page)
        return paginator.get_paginated_response(contact_json.many(page))

    @operation(
        "contacts_create",
        "Create a contact",
        responses={201: ContactOut, **problems(400), **CONFLICT, **UNSUPPORTED_BODY},
        tag="contacts",
        request=ContactIn,
        description="The number is normalised to E.164; one contact per number in an account. "
        "Requires the `contacts:write` scope.",
        examples=[
            OpenApiExample(
                "A contact in two groups",
                value={"phone": "+447400123456", "name": "Ada Lovelace", "groups": [3, 7]},
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={
                    "id": 42,
                    "phone": "+447400123456",
                    "name": "Ada Lovelace",
                    "groups": [3, 7],
                    "created_at": "2026-05-01T09:00:00Z",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request):
        data = ContactIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        contact = services.contact_create(
            account_id=request.auth.account.pk, phone=values["phone"], name=values["name"], group_ids=values["groups"]
        )
        return Response(contact_json(contact), status=status.HTTP_201_CREATED)


class ContactApi(ApiView):
    required_scopes = {"GET": "contacts:read", "PATCH": "contacts:write", "DELETE": "contacts:write"}

    @operation("contacts_get", "Get a contact", responses={200: ContactOut, **problems(404)}, tag="contacts")
    def get(self, request, contact_id):
        contact = selectors.contact_get(account_id=request.auth.account.pk, contact_id=contact_id)
        if contact is None:
            raise not_found("contact")
        selectors.contact_group_ids([contact])
        return Response(contact_json(contact))

    @operation(
        "contacts_update",
        "Change a contact",
        responses={200: ContactOut, **problems(400, 404), **CONFLICT, **UNSUPPORTED_BODY},
        tag="contacts",
        request=ContactPatch,
        description="Changes the fields given; `groups` replaces the contact's groups. "
        "Requires the `contacts:write` scope.",
        examples=[OpenApiExample("Rename, and only one group", value={"name": "Ada King", "groups": [3]})],
    )
    def patch(self, request, contact_id):
        data = ContactPatch(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        contact = services.contact_update(
            account_id=request.auth.account.pk,
            contact_id=contact_id,
            phone=values.get("phone"),
            name=values.get("name"),
            group_ids=values.get("groups"),
        )
        if not hasattr(contact, "group_ids"):
            selectors.contact_group_ids([contact])
        return Response(contact_json(contact))

    @operation("contacts_delete", "Delete a contact", responses={204: None, **problems(404)}, tag="contacts")
    def delete(self, request, contact_id):
        services.contact_delete(account_id=request.auth.account.pk, contact_id=contact_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupsApi(ApiView):
    required_scopes = {"GET": "contacts:read", "POST": "contacts:write"}

    @operation(
        "groups_list",
        "List contact groups",
        responses={200: GroupPage, **problems(400)},
        tag="contacts",
        description="By name, each with its number of contacts, cursor-paginated. Requires the `contacts:read` scope.",
        parameters=[*GroupPagination.parameters()],
    )
    def get(self, request):
        groups = selectors.group_list(account_id=request.auth.account.pk)
        paginator = GroupPagination()
        page = paginator.paginate_queryset(groups, request, view=self)
        return paginator.get_paginated_response(group_json.many(page))

    @operation(
        "groups_create",
        "Create a contact group",
        responses={201: GroupOut, **problems(400), **CONFLICT, **UNSUPPORTED_BODY},
        tag="contacts",
        request=GroupIn,
        description="Send to it with `to_groups` in `POST /messages`. Requires the `contacts:write` scope.",
        examples=[
            OpenApiExample("A group", value={"name": "Newsletter"}, request_only=True),
            OpenApiExample(
                "Created",
                value={"id": 3, "name": "Newsletter", "contact_count": 0},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request):
        data = GroupIn(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.group_create(account_id=request.auth.account.pk, name=data.validated_data["name"])
        return Response(group_json(group), status=status.HTTP_201_CREATED)


class GroupApi(ApiView):
    required_scopes = {"GET": "contacts:read", "PATCH": "contacts:write", "DELETE": "contacts:write"}

    @operation("groups_get", "Get a contact group", responses={200: GroupOut, **problems(404)}, tag="contacts")
    def get(self, request, group_id):
        group = selectors.group_get(account_id=request.auth.account.pk, group_id=group_id)
        if group is None:
            raise not_found("group")
        return Response(group_json(group))

    @operation(
        "groups_update",
        "Rename a contact group",
        responses={200: GroupOut, **problems(400, 404), **CONFLICT, **UNSUPPORTED_BODY},
        tag="contacts",
        request=GroupIn,
        examples=[OpenApiExample("Rename", value={"name": "Customers"})],
    )
    def patch(self, request, group_id):
        data = GroupIn(data=request.data, partial=True)  # as the document says: every field optional
        data.is_valid(raise_exception=True)
        account_id = request.auth.account.pk
        if "name" in data.validated_data:
            services.group_update(account_id=account_id, group_id=group_id, name=data.validated_data["name"])
        group = selectors.group_get(account_id=account_id, group_id=group_id)
        if group is None:  # not the account's, or deleted a moment ago
            raise not_found("contact group")
        return Response(group_json(group))

    @operation(
        "groups_delete",
        "Delete a contact group",
        responses={204: None, **problems(404)},
        tag="contacts",
        description="Its contacts stay. Requires the `contacts:write` scope.",
    )
    def delete(self, request, group_id):
        services.group_delete(account_id=request.auth.account.pk, group_id=group_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OptOutsApi(ApiView):
    required_scopes = {"GET": "contacts:read", "POST": "contacts:write"}

    @operation(
        "opt_outs_list",
        "List opt-outs",
        responses={200: OptOutPage, **problems(400)},
        tag="contacts",
        description="The numbers that asked (STOP) or were set not to receive the account's messages, newest "
        "first, cursor-paginated; `search` keeps those whose number holds the digits given. "
        "Requires the `contacts:read` scope.",
        parameters=[
            OpenApiParameter("search", OpenApiTypes.STR, description="Part of a number."),
            *OptOutPagination.parameters(),
        ],
    )
    def get(self, request):
        opt_outs = OptOutFilter.filtered(
            request.query_params, selectors.opt_out_list(account_id=request.auth.account.pk)
        )
        paginator = OptOutPagination()
        page = paginator.paginate_queryset(opt_outs, request, view=self)
        return paginator.get_paginated_response(opt_out_json.many(page))

    @operation(
        "opt_outs_create",
        "Opt a number out",
        responses={201: OptOutOut, 200: OptOutOut, **problems(400), **UNSUPPORTED_BODY},
        tag="contacts",
        request=OptOutIn,
        description="Messages to the number are then `rejected` with `opted_out`, free. 201 for a new opt-out, "
        "200 with the same body when the number is already opted out. Requires the `contacts:write` scope.",
        examples=[
            OpenApiExample("A number", value={"phone": "+447400123456"}, request_only=True),
            OpenApiExample(
                "Opted out",
                value={"phone": "+447400123456", "source": "api", "created_at": "2026-05-01T09:00:00Z"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request):
        data = OptOutIn(data=request.data)
        data.is_valid(raise_exception=True)
        opt_out, created = services.opt_out_add(
            account_id=request.auth.account.pk,
            phone=data.validated_data["phone"],
            source=OptOut.Source.API,
            context=AuditContext.from_api_request(request),
        )
        return Response(opt_out_json(opt_out), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OptOutApi(ApiView):
    required_scopes = {"DELETE": "contacts:write"}

    @operation(
        "opt_outs_delete",
        "Remove an opt-out",
        responses={204: None, **problems(404)},
        tag="contacts",
        description="The number may be sent to again. Requires the `contacts:write` scope.",
    )
    def delete(self, request, phone):
        services.opt_out_remove(
            account_id=request.auth.account.pk, phone=phone, context=AuditContext.from_api_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
