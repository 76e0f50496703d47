from django.contrib import admin
from django.urls import include, path, re_path

from messaging import hooks
from portal import views
from portal.api import ApiNotFoundView

api_v1_patterns: list = [
    # Endpoints arrive with the REST API issue.
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("messages/", include("messaging.urls")),
    path("hooks/kannel/dlr", hooks.kannel_dlr, name="kannel-dlr"),
    path("", views.dashboard, name="dashboard"),
    path("api/v1/", include((api_v1_patterns, "api"), namespace="api-v1")),
    path("api/", include((api_v1_patterns, "api"), namespace="api")),
    re_path(r"^api(?:/.*)?$", ApiNotFoundView.as_view(), name="api-not-found"),
]

handler500 = "portal.views.server_error"
