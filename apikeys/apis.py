from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response

from apikeys.api import ApiView, operation, problems
from apikeys.models import SCOPES
from apikeys.services import KeyChanged, access_token_issue, access_token_revoke, access_token_secret
from core.serializers import RefuseUnknownFields, Representation, UtcDateTimeField


class TokenRequest(RefuseUnknownFields, serializers.Serializer):
    ttl = serializers.IntegerField(min_value=60, max_value=86400, default=3600, help_text="Lifetime in seconds.")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(SCOPES)),
        required=False,
        allow_empty=False,  # an explicit empty list must not mean "everything"
        help_text="A subset of the caller's scopes; all of them when omitted.",
    )


class TokenResponse(serializers.Serializer):
    id = serializers.UUIDField()
    access_token = serializers.CharField()
    token_type = serializers.CharField(default="Bearer")
    expires_at = UtcDateTimeField()
    scopes = serializers.ListField(child=serializers.CharField())


token_json = Representation(TokenResponse)


def key_of_caller(request):
    """Access tokens are issued to an API token or credential, never to another access token."""
    from rest_framework.exceptions import PermissionDenied

    if request.auth.kind == "access":
        raise PermissionDenied("Use an API token or API credential to manage access tokens.", code="forbidden")
    return request.auth.parent


class AccessTokenCreateApi(ApiView):
    required_scopes: dict[str, str] = {}

    @operation(
        "auth_token_create",
        "Issue an access token",
        responses={201: TokenResponse, **problems(400, 413, 415)},
        tag="auth",
        request=TokenRequest,
        description="A short-lived Bearer token for a subset of the caller's scopes. The same request (same "
        "caller, scopes and ttl) returns the same token while more than 1/24 of its life is left.",
        examples=[OpenApiExample("One hour, send only", value={"ttl": 3600, "scopes": ["messages:send"]})],
    )
    def post(self, request):
        data = TokenRequest(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            access = access_token_issue(
                parent=key_of_caller(request), scopes=data.validated_data.get("scopes"), ttl=data.validated_data["ttl"]
            )
        except KeyChanged as changed:
            raise AuthenticationFailed(changed.detail) from None  # a 401 with WWW-Authenticate, as any other
        body = token_json(
            {
                "id": access.id,
                "access_token": access_token_secret(access.id),
                "token_type": "Bearer",
                "expires_at": access.expires_at,
                "scopes": sorted(access.scopes),
            }
        )
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class AccessTokenDeleteApi(ApiView):
    @operation("auth_token_revoke", "Revoke an access token", responses={204: None, **problems(404)}, tag="auth")
    def delete(self, request, token_id):
        access_token_revoke(parent=key_of_caller(request), access_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
