"""The base of every API view: the request chain of SPEC §5 and the rate-limit headers, and the
OpenAPI description of the errors every operation can answer."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from apikeys.authentication import BearerAuthentication, CredentialBasicAuthentication
from apikeys.permissions import API_PERMISSIONS
from apikeys.throttling import ApiRateThrottle


class ApiView(APIView):
    authentication_classes = [BearerAuthentication, CredentialBasicAuthentication]
    permission_classes = API_PERMISSIONS
    throttle_classes = [ApiRateThrottle]
    required_scopes: dict[str, str] = {}

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        limits = getattr(request, "rate_limit", None)
        if limits:
            response["RateLimit-Limit"] = str(limits["limit"])
            response["RateLimit-Remaining"] = str(limits["remaining"])
            response["RateLimit-Reset"] = str(limits["reset"])
        return response


# --- OpenAPI: the errors, documented (a client must be able to integrate from the document) ------


class ScopedAutoSchema(AutoSchema):
    """Every operation names the scope it needs, from the view's `required_scopes` (the same
    table HasScope enforces): in its description, and as `x-required-scopes` for programs
    (OpenAPI 3.0 allows scopes in security requirements only for OAuth2 schemes)."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        scope = getattr(self.view, "required_scopes", {}).get(self.method.upper())
        if operation is not None and scope:
            operation["x-required-scopes"] = [scope]
            description = operation.get("description", "")
            if f"`{scope}`" not in description:
                operation["description"] = f"{description} Requires the `{scope}` scope.".strip()
        return operation


PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(serializers.Serializer):
    """RFC 9457 problem details: the body of every API error."""

    type = serializers.CharField(help_text="Its code's entry on the errors page: `/docs/errors#<code>`.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(help_text="What went wrong, for a program: `insufficient_scope`, `ip_not_allowed`, …")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For invalid requests: field → messages.",
    )


PROBLEM_DESCRIPTIONS = {
    400: "Invalid request (`invalid_request`, `invalid_recipients`, `text_too_long`); `errors` names the fields.",
    401: "No or invalid credentials (`unauthenticated`); see the `WWW-Authenticate` header.",
    402: "Not enough credit (`insufficient_credit`) or the sub-user's monthly limit (`monthly_limit_reached`).",
    403: "`insufficient_scope` (names the scope), `ip_not_allowed`, `sender_not_allowed`, `account_suspended`.",
    404: "No such object for this caller (`not_found`).",
    409: "`idempotency_conflict`, or the message can no longer be canceled (`not_cancelable`).",
    413: "Too many recipients in one request (`too_many_recipients`), or a body over 2.5 MB (`request_too_large`).",
    415: "The body is not JSON (`unsupported_media_type`).",
    429: "Rate limited (`rate_limited`, `traffic_cap_reached`); retry after `Retry-After` seconds.",
    503: "A service behind the API is unavailable (`service_unavailable`): nothing was done; retry after "
    "`Retry-After` seconds.",
}


def problems(*statuses: int) -> dict:
    """`extend_schema(responses=...)` entries for an operation's errors; 401, 403, 429 and 503
    can come from the request chain of any operation."""
    return {
        (status, PROBLEM_MEDIA_TYPE): OpenApiResponse(Problem, description=PROBLEM_DESCRIPTIONS[status])
        for status in sorted({*statuses, 401, 403, 429, 503})
    }


def operation(operation_id: str, summary: str, *, responses: dict, tag: str, parameters=(), **documented):
    """`extend_schema` for one operation of the API, with what every operation has: its tag, and
    the rate-limit headers after its own `parameters` (any other keyword goes to extend_schema)."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        responses=responses,
        tags=[tag],
        parameters=[*parameters, *RATE_LIMIT_HEADERS],
        **documented,
    )


RATE_LIMIT_HEADERS = [
    OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.HEADER, response=response, description=description)
    for name, response, description in (
        ("RateLimit-Limit", True, "Requests allowed in this minute (the tighter of the key's and the account's)."),
        ("RateLimit-Remaining", True, "Requests left in this minute."),
        ("RateLimit-Reset", True, "Seconds until the minute ends."),
        ("Retry-After", [429, 503], "Seconds to wait before trying again."),
    )
]
