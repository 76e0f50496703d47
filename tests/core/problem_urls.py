"""A URL configuration for the problem-details tests: the real one plus a validating endpoint."""

from django.urls import path
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError
from portal.urls import urlpatterns as real_urlpatterns


class EchoInput(serializers.Serializer):
    to = serializers.RegexField(r"^\+[1-9]\d{6,14}$")
    count = serializers.IntegerField(min_value=1, max_value=10)


class EchoView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        data = EchoInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["count"] == 7:
            raise ApplicationError(
                "Not enough credit.", code="insufficient_credit", status=402, title="Payment required"
            )
        return Response(data.validated_data)


class NoTokenYet(BaseAuthentication):
    """Stands in for the API's Bearer authentication: finds no credentials, names its scheme."""

    def authenticate(self, request):
        return None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ProtectedView(APIView):
    authentication_classes = [NoTokenYet]

    def get(self, request):
        return Response({})


class BrokenView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("a bug")


urlpatterns = [
    path("api/v1/test/echo", EchoView.as_view()),
    path("api/v1/test/protected", ProtectedView.as_view()),
    path("api/v1/test/broken", BrokenView.as_view()),
    path("smsapi/test/broken", BrokenView.as_view()),
    path("3rdparty/test/broken", BrokenView.as_view()),
    *real_urlpatterns,
]
handler500 = "portal.views.server_error"
