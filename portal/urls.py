import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apikeys.apis import AccessTokenCreateApi, AccessTokenDeleteApi
from compat.smsgate.apis import NotFoundApi as SmsGateNotFoundApi
from contacts.urls import api_patterns as contacts_api_patterns
from core.api import ApiNotFoundView
from inbound import hooks as inbound_hooks
from inbound.urls import api_patterns as inbound_api_patterns
from messaging import hooks
from messaging.apis import BalanceApi, MessageApi, MessagesApi
from messaging.legacy import legacy_send
from messaging.urls import billing_patterns
from portal import views
from verify.urls import api_patterns as verify_api_patterns
from webhooks.urls import api_patterns as webhooks_api_patterns

api_v1_patterns: list = [
    path("auth/token", AccessTokenCreateApi.as_view(), name="auth-token"),
    path("auth/token/<uuid:token_id>", AccessTokenDeleteApi.as_view(), name="auth-token-detail"),
    path("messages", MessagesApi.as_view(), name="messages"),
    path("messages/<uuid:message_id>", MessageApi.as_view(), name="message-detail"),
    path("balance", BalanceApi.as_view(), name="balance"),
    *contacts_api_patterns,
    *inbound_api_patterns,
    *verify_api_patterns,
    *webhooks_api_patterns,
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
]

_API_SEGMENTS = "|".join(re.escape(prefix.strip("/")) for prefix in settings.API_PATH_PREFIXES)

urlpatterns = [
    # The API first: its requests are the most frequent, and resolving stops at the first match.
    path("api/v1/", include((api_v1_patterns, "api"), namespace="api-v1")),
    path("api/", include((api_v1_patterns, "api"), namespace="api")),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-v1:schema"), name="api-docs"),
    path("smsapi/send", legacy_send, name="legacy-send"),
    # Drop-in dialects of two providers' APIs (docs/compatibility.md; shared/COMPAT.md).
    path("3rdparty/v1/", include("compat.smsgate.urls")),
    path("smsapi/", include("compat.smsapi.urls")),
    path("docs/errors", views.api_errors, name="api-errors"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("members.urls")),
    path("accounts/", include("security.urls")),
    path("settings/", include("accounts.urls")),
    path("messages/", include("messaging.urls")),
    path("billing/", include((billing_patterns, "billing"))),
    path("contacts/", include("contacts.urls")),
    path("api-keys/", include("apikeys.urls")),
    path("inbox/", include("inbound.urls")),
    path("verify/", include("verify.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("hooks/kannel/dlr", hooks.kannel_dlr, name="kannel-dlr"),
    path("hooks/kannel/mo", inbound_hooks.kannel_mo, name="kannel-mo"),
    path("", views.dashboard, name="dashboard"),
    # The SMSGate dialect's own: its error body (compat/smsgate), for SMSGate's clients.
    re_path(r"^3rdparty(?:[^\w.-][\s\S]*)?\Z", SmsGateNotFoundApi.as_view(), name="smsgate-not-found"),
    # Last: any other path under the API's prefixes (`api`, `smsapi`, … as a whole first segment,
    # followed by anything at all: `[\s\S]`, since `.` stops at a newline) is a problem document,
    # never Django's HTML 404 (which, with DEBUG on, lists these patterns).
    re_path(rf"^(?:{_API_SEGMENTS})(?:[^\w.-][\s\S]*)?\Z", ApiNotFoundView.as_view(), name="api-not-found"),
]

handler500 = "portal.views.server_error"
