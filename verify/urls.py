"""The verify API's routes (`api_patterns`, included in each API version by portal/urls.py) and its
portal page (`urlpatterns`, under /verify/)."""

from django.urls import path

from verify import views
from verify.apis import VerificationApi, VerificationCheckApi, VerificationsApi

api_patterns = [
    path("verifications", VerificationsApi.as_view(), name="verifications"),
    path("verifications/<uuid:verification_id>", VerificationApi.as_view(), name="verification-detail"),
    path("verifications/<uuid:verification_id>/check", VerificationCheckApi.as_view(), name="verification-check"),
]

app_name = "verify"

urlpatterns = [
    path("", views.template_edit, name="template"),
]
