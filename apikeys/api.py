"""The base of every API view: the request chain of SPEC §5 and the rate-limit headers."""

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
