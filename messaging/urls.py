from django.urls import path

from messaging import billing, views

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

# Mounted at /billing/ (portal/urls.py), namespace "billing".
billing_patterns = [
    path("", billing.ledger, name="ledger"),
    path("statement/", billing.statement, name="statement"),
    path("prices/", billing.prices, name="prices"),
    path("low-balance/", billing.low_balance_threshold, name="low-balance"),
]
