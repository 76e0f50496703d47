"""`/3rdparty/v1/`: SMSGate's Cloud API, as its client libraries call it (shared/COMPAT.md §A)."""

from django.urls import path, re_path

from compat.smsgate import apis

app_name = "smsgate"


def _unsupported(route: str, feature: str, name: str):
    return re_path(route, apis.NotSupportedApi.as_view(feature=feature), name=name)


urlpatterns = [
    path("auth/token", apis.TokenCreateApi.as_view(), name="token"),
    # Before auth/token/<id>: we issue no refresh tokens.
    _unsupported(r"^auth/token/refresh\Z", "Refreshing a token", "token-refresh"),
    path("auth/token/<uuid:token_id>", apis.TokenRevokeApi.as_view(), name="token-detail"),
    path("messages", apis.MessagesApi.as_view(), name="messages"),
    _unsupported(r"^messages/inbox(?:/[\s\S]*)?\Z", "The inbox", "messages-inbox"),
    path("messages/<str:message_id>", apis.MessageApi.as_view(), name="message"),
    path("devices", apis.DevicesApi.as_view(), name="devices"),
    _unsupported(r"^devices/[\s\S]+\Z", "Managing devices", "device"),
    path("health", apis.HealthApi.as_view(), name="health"),
    path("health/ready", apis.HealthApi.as_view(), name="health-ready"),
    path("health/startup", apis.HealthApi.as_view(), name="health-startup"),
    path("health/live", apis.HealthApi.as_view(checks=False), name="health-live"),
    _unsupported(r"^inbox(?:/[\s\S]*)?\Z", "The inbox", "inbox"),
    _unsupported(r"^webhooks(?:/[\s\S]*)?\Z", "Webhooks (use the portal's: docs/webhooks.md)", "webhooks"),
    _unsupported(r"^settings(?:/[\s\S]*)?\Z", "Device settings", "settings"),
    _unsupported(r"^logs(?:/[\s\S]*)?\Z", "Device logs", "logs"),
]
