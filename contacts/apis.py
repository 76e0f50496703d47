"""The contacts API (SPEC §5): contacts and groups of the caller's account, thin views over
contacts.services and contacts.selectors."""

import base64
import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from apikeys.api import PROBLEM_MEDIA_TYPE, RATE_LIMIT_HEADERS, ApiView, Problem, problems
from contacts import selectors, services
from contacts.models import Contact, Group
from core.api import iso_z
from core.text import UNSTORABLE

MAX_ID = selectors.MAX_ID
CONFLICT = {
    (409, PROBLEM_MEDIA_TYPE): OpenApiResponse(
        Problem, description="The number is already a contact (`contact_exists`), or the name a group (`group_exists`)."
    )
}
UNSUPPORTED_BODY = {
    (415, PROBLEM_MEDIA_TYPE): OpenApiResponse(Problem, description="The body is not JSON (`unsupported_media_type`).")
}


# --- Serializers: requests --------------------------------------------------------------------


class ContactIn(serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="E.164, e.g. +447400123456 (normalised).")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    groups = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        max_length=1000,
        help_text="Ids of the account's groups the contact is in.",
    )


class ContactPatch(serializers.Serializer):
    phone = serializers.CharField(max_length=32, required=False)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    groups = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=1000,
        help_text="Replaces the contact's groups.",
    )


class GroupIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="Unique in the account, whatever the case.")


# --- Serializers: answers (for the document; the views build plain dicts) ---------------------


class ContactOut(serializers.Serializer):
    id = serializers.IntegerField()
    phone = serializers.CharField(help_text="E.164")
    name = serializers.CharField(allow_blank=True)
    groups = serializers.ListField(child=serializers.IntegerField(), help_text="Group ids.")
    created_at = serializers.DateTimeField()


class ContactPage(serializers.Serializer):
    results = ContactOut(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class GroupOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    contact_count = serializers.IntegerField()


class GroupPage(serializers.Serializer):
    results = GroupOut(many=True)
    next_cursor = serializers.CharField(allow_null=True)


def contact_json(contact: Contact) -> dict:
    return {
        "id": contact.pk,
        "phone": contact.phone,
        "name": contact.name,
        "groups": list(getattr(contact, "group_ids", [])),
        "created_at": iso_z(contact.created_at),
    }


def group_json(group: Group) -> dict:
    return {"id": group.pk, "name": group.name, "contact_count": getattr(group, "contact_count", 0)}


# --- Pagination: an opaque cursor over the list's order, as GET /messages ---------------------

LIST_PARAMETERS = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 500, default 100"),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="`next_cursor` of the previous page"),
]


def _limit(params) -> int:
    try:
        return min(max(int(params.get("limit", 100)), 1), 500)
    except ValueError:
        raise ValidationError({"limit": ["A number from 1 to 500."]}) from None


def _encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(value: str, shape: tuple[type, ...]) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        if (
            type(values) is not list
            or len(values) != len(shape)
            or any(type(v) is not t for v, t in zip(values, shape, strict=True))
            or not selectors.valid_id(values[-1])
            or any(type(v) is str and UNSTORABLE.search(v) for v in values)
        ):
            raise ValueError
        return values
    except (ValueError, TypeError, RecursionError):
        raise ValidationError({"cursor": ["Not a cursor from this API."]}) from None


def _query_id(params, name: str) -> int | None:
    if not params.get(name):
        return None
    try:
        value = int(params[name])
    except ValueError:
        value = 0
    if not selectors.valid_id(value):
        raise ValidationError({name: ["A group id."]})
    return value


# --- Views ------------------------------------------------------------------------------------


class ContactsApi(ApiView):
    required_scopes = {"GET": "contacts:read", "POST": "contacts:write"}

    @extend_schema(
        operation_id="contacts_list",
        summary="List contacts",
        description="Newest first, cursor-paginated; `group` keeps the contacts of one group, `search` those "
        "whose name (any case) or number holds the text. Requires the `contacts:read` scope.",
        parameters=[
            OpenApiParameter("group", OpenApiTypes.INT, description="A group id: only its contacts."),
            OpenApiParameter("search", OpenApiTypes.STR, description="Part of a name or a number."),
            *LIST_PARAMETERS,
            *RATE_LIMIT_HEADERS,
        ],
        responses={200: ContactPage, **problems(400)},
        tags=["contacts"],
    )
    def get(self, request):
        params = request.query_params
        search = params.get("search", "")
        if "\x00" in search or len(search) > 100:
            raise ValidationError({"search": ["At most 100 characters, no null characters."]})
        contacts = selectors.contact_list(
            account_id=request.auth.account.pk, group_id=_query_id(params, "group"), search=search
        )
        limit = _limit(params)
        if params.get("cursor"):
            [after] = _decode_cursor(params["cursor"], (int,))
            contacts = contacts.filter(pk__lt=after)
        page = list(contacts[: limit + 1])
        next_cursor = _encode_cursor([page[limit - 1].pk]) if len(page) > limit else None
        page = page[:limit]
        selectors.contact_group_ids(page)
        return Response({"results": [contact_json(c) for c in page], "next_cursor": next_cursor})

    @extend_schema(
        operation_id="contacts_create",
        summary="Create a contact",
        description="The number is normalised to E.164; one contact per number in an account. "
        "Requires the `contacts:write` scope.",
        request=ContactIn,
        parameters=RATE_LIMIT_HEADERS,
        responses={201: ContactOut, **problems(400), **CONFLICT, **UNSUPPORTED_BODY},
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
        tags=["contacts"],
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

    @extend_schema(
        operation_id="contacts_get",
        summary="Get a contact",
        parameters=RATE_LIMIT_HEADERS,
        responses={200: ContactOut, **problems(404)},
        tags=["contacts"],
    )
    def get(self, request, contact_id):
        contact = selectors.contact_get(account_id=request.auth.account.pk, contact_id=contact_id)
        if contact is None:
            raise NotFound("No contact with this id.")
        selectors.contact_group_ids([contact])
        return Response(contact_json(contact))

    @extend_schema(
        operation_id="contacts_update",
        summary="Change a contact",
        description="Changes the fields given; `groups` replaces the contact's groups. "
        "Requires the `contacts:write` scope.",
        request=ContactPatch,
        parameters=RATE_LIMIT_HEADERS,
        responses={200: ContactOut, **problems(400, 404), **CONFLICT, **UNSUPPORTED_BODY},
        examples=[OpenApiExample("Rename, and only one group", value={"name": "Ada King", "groups": [3]})],
        tags=["contacts"],
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

    @extend_schema(
        operation_id="contacts_delete",
        summary="Delete a contact",
        parameters=RATE_LIMIT_HEADERS,
        responses={204: None, **problems(404)},
        tags=["contacts"],
    )
    def delete(self, request, contact_id):
        services.contact_delete(account_id=request.auth.account.pk, contact_id=contact_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupsApi(ApiView):
    required_scopes = {"GET": "contacts:read", "POST": "contacts:write"}

    @extend_schema(
        operation_id="groups_list",
        summary="List contact groups",
        description="By name, each with its number of contacts, cursor-paginated. Requires the `contacts:read` scope.",
        parameters=[*LIST_PARAMETERS, *RATE_LIMIT_HEADERS],
        responses={200: GroupPage, **problems(400)},
        tags=["contacts"],
    )
    def get(self, request):
        params = request.query_params
        groups = selectors.group_list(account_id=request.auth.account.pk)
        limit = _limit(params)
        if params.get("cursor"):
            name, after = _decode_cursor(params["cursor"], (str, int))
            groups = groups.filter(name__gte=name).exclude(name=name, pk__lte=after)
        page = list(groups[: limit + 1])
        next_cursor = _encode_cursor([page[limit - 1].name, page[limit - 1].pk]) if len(page) > limit else None
        return Response({"results": [group_json(g) for g in page[:limit]], "next_cursor": next_cursor})

    @extend_schema(
        operation_id="groups_create",
        summary="Create a contact group",
        description="Send to it with `to_groups` in `POST /messages`. Requires the `contacts:write` scope.",
        request=GroupIn,
        parameters=RATE_LIMIT_HEADERS,
        responses={201: GroupOut, **problems(400), **CONFLICT, **UNSUPPORTED_BODY},
        examples=[
            OpenApiExample("A group", value={"name": "Newsletter"}, request_only=True),
            OpenApiExample(
                "Created",
                value={"id": 3, "name": "Newsletter", "contact_count": 0},
                response_only=True,
                status_codes=["201"],
            ),
        ],
        tags=["contacts"],
    )
    def post(self, request):
        data = GroupIn(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.group_create(account_id=request.auth.account.pk, name=data.validated_data["name"])
        return Response(group_json(group), status=status.HTTP_201_CREATED)


class GroupApi(ApiView):
    required_scopes = {"GET": "contacts:read", "PATCH": "contacts:write", "DELETE": "contacts:write"}

    @extend_schema(
        operation_id="groups_get",
        summary="Get a contact group",
        parameters=RATE_LIMIT_HEADERS,
        responses={200: GroupOut, **problems(404)},
        tags=["contacts"],
    )
    def get(self, request, group_id):
        group = selectors.group_get(account_id=request.auth.account.pk, group_id=group_id)
        if group is None:
            raise NotFound("No group with this id.")
        return Response(group_json(group))

    @extend_schema(
        operation_id="groups_update",
        summary="Rename a contact group",
        request=GroupIn,
        parameters=RATE_LIMIT_HEADERS,
        responses={200: GroupOut, **problems(400, 404), **CONFLICT, **UNSUPPORTED_BODY},
        examples=[OpenApiExample("Rename", value={"name": "Customers"})],
        tags=["contacts"],
    )
    def patch(self, request, group_id):
        data = GroupIn(data=request.data, partial=True)  # as the document says: every field optional
        data.is_valid(raise_exception=True)
        account_id = request.auth.account.pk
        if "name" in data.validated_data:
            services.group_update(account_id=account_id, group_id=group_id, name=data.validated_data["name"])
        group = selectors.group_get(account_id=account_id, group_id=group_id)
        if group is None:  # not the account's, or deleted a moment ago
            raise NotFound("No contact group with this id.")
        return Response(group_json(group))

    @extend_schema(
        operation_id="groups_delete",
        summary="Delete a contact group",
        description="Its contacts stay. Requires the `contacts:write` scope.",
        parameters=RATE_LIMIT_HEADERS,
        responses={204: None, **problems(404)},
        tags=["contacts"],
    )
    def delete(self, request, group_id):
        services.group_delete(account_id=request.auth.account.pk, group_id=group_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
