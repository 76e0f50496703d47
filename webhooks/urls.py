"""The webhooks API's routes (`api_patterns`, included in each API version by portal/urls.py) and its
portal pages (`urlpatterns`, under /webhooks/)."""

from django.urls import path

from webhooks import views
from webhooks.apis import WebhookApi, WebhooksApi, WebhookTestApi

api_patterns = [
    path("webhooks", WebhooksApi.as_view(), name="webhooks"),
    path("webhooks/<uuid:endpoint_id>", WebhookApi.as_view(), name="webhook-detail"),
    path("webhooks/<uuid:endpoint_id>/test", WebhookTestApi.as_view(), name="webhook-test"),
]

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("new/", views.endpoint_create, name="create"),
    path("<uuid:endpoint_id>/", views.endpoint_detail, name="detail"),
    path("<uuid:endpoint_id>/enable/", views.endpoint_set_enabled, {"enabled": True}, name="enable"),
    path("<uuid:endpoint_id>/disable/", views.endpoint_set_enabled, {"enabled": False}, name="disable"),
    path("<uuid:endpoint_id>/rotate/", views.endpoint_rotate, name="rotate"),
    path("<uuid:endpoint_id>/test/", views.endpoint_test, name="test"),
    path("<uuid:endpoint_id>/delete/", views.endpoint_delete, name="delete"),
    path("<uuid:endpoint_id>/deliveries/<int:delivery_id>/resend/", views.delivery_resend, name="resend"),
]
