from django.urls import path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("test-sms/", views.send_test_sms, name="send-test-sms"),
]
