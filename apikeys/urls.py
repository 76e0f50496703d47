from django.urls import path

from apikeys import views

app_name = "apikeys"

urlpatterns = [
    path("", views.key_list, name="list"),
    path("tokens/new/", views.token_create, name="token-create"),
    path("tokens/<int:token_id>/disable/", views.token_disable, name="token-disable"),
    path("tokens/<int:token_id>/enable/", views.token_enable, name="token-enable"),
    path("tokens/<int:token_id>/delete/", views.token_delete, name="token-delete"),
    path("credentials/new/", views.credential_create, name="credential-create"),
    path("credentials/<int:credential_id>/reset/", views.credential_reset, name="credential-reset"),
    path("credentials/<int:credential_id>/disable/", views.credential_disable, name="credential-disable"),
    path("credentials/<int:credential_id>/enable/", views.credential_enable, name="credential-enable"),
    path("credentials/<int:credential_id>/delete/", views.credential_delete, name="credential-delete"),
]
