from django.urls import path

from apikeys import views

app_name = "apikeys"

urlpatterns = [
    path("", views.key_list, name="list"),
    path("tokens/new/", views.key_create, {"kind": views.TOKEN}, name="token-create"),
    path("tokens/<int:pk>/disable/", views.key_disable, {"kind": views.TOKEN}, name="token-disable"),
    path("tokens/<int:pk>/enable/", views.key_enable, {"kind": views.TOKEN}, name="token-enable"),
    path("tokens/<int:pk>/delete/", views.key_delete, {"kind": views.TOKEN}, name="token-delete"),
    path("credentials/new/", views.key_create, {"kind": views.CREDENTIAL}, name="credential-create"),
    path("credentials/<int:credential_id>/reset/", views.credential_reset, name="credential-reset"),
    path("credentials/<int:pk>/disable/", views.key_disable, {"kind": views.CREDENTIAL}, name="credential-disable"),
    path("credentials/<int:pk>/enable/", views.key_enable, {"kind": views.CREDENTIAL}, name="credential-enable"),
    path("credentials/<int:pk>/delete/", views.key_delete, {"kind": views.CREDENTIAL}, name="credential-delete"),
]
