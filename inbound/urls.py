"""The inbound API's routes (`api_patterns`, included in each API version by portal/urls.py) and its
portal pages (`urlpatterns`, under /inbox/)."""

from django.urls import path

from inbound import views
from inbound.apis import InboundApi, InboundListApi

app_name = "inbound"

api_patterns: list = [
    path("inbound", InboundListApi.as_view(), name="inbound"),
    path("inbound/<uuid:message_id>", InboundApi.as_view(), name="inbound-detail"),
]

urlpatterns: list = [
    path("", views.inbox, name="list"),
    path("<uuid:message_id>/", views.conversation, name="conversation"),
    path("settings/", views.reply_settings, name="settings"),
]
