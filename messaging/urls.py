from django.urls import path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("", views.message_log, name="log"),
    path("send/", views.send, name="send"),
    path("send/preview/", views.send_preview, name="send-preview"),
    path("senders/", views.sender_names, name="senders"),
    path("test-sms/", views.send_test_sms, name="send-test-sms"),
    path("<uuid:message_id>/", views.message_detail, name="detail"),
    path("<uuid:message_id>/cancel/", views.message_cancel_view, name="cancel"),
]
