"""SMSAPI-compatible surface at /smsapi/ (shared/COMPAT.md §B, docs/compatibility.md)."""

from django.urls import path, re_path

from compat.smsapi.apis import ProfileApi, SmsApi, UnknownEndpoint, UserApi

app_name = "smsapi"

urlpatterns = [
    path("sms.do", SmsApi.as_view(), name="sms"),
    path("user.do", UserApi.as_view(), name="user"),
    path("profile", ProfileApi.as_view(), name="profile"),
    # Last: any other path under /smsapi/ (but the legacy `send`, routed before this include) is
    # SMSAPI's "unknown endpoint", in JSON: `[\s\S]`, since `.` stops at a newline.
    re_path(r"^[\s\S]*\Z", UnknownEndpoint.as_view(), name="unknown"),
]
