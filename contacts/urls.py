"""The contacts API's routes (`api_patterns`, included in each API version by portal/urls.py) and the
portal's Contacts pages."""

from django.urls import path

from contacts import views
from contacts.apis import ContactApi, ContactsApi, GroupApi, GroupsApi, OptOutApi, OptOutsApi

api_patterns = [
    path("contacts", ContactsApi.as_view(), name="contacts"),
    path("contacts/<int:contact_id>", ContactApi.as_view(), name="contact-detail"),
    path("groups", GroupsApi.as_view(), name="groups"),
    path("groups/<int:group_id>", GroupApi.as_view(), name="group-detail"),
    path("opt-outs", OptOutsApi.as_view(), name="opt-outs"),
    path("opt-outs/<str:phone>", OptOutApi.as_view(), name="opt-out-detail"),
]

# The portal's pages, under /contacts/.
app_name = "contacts"

urlpatterns = [
    path("", views.contact_list, name="list"),
    path("new/", views.contact_create, name="create"),
    path("<int:contact_id>/edit/", views.contact_edit, name="edit"),
    path("<int:contact_id>/delete/", views.contact_delete, name="delete"),
    path("groups/", views.group_list, name="groups"),
    path("groups/<int:group_id>/rename/", views.group_rename, name="group-rename"),
    path("groups/<int:group_id>/delete/", views.group_delete, name="group-delete"),
    path("import/", views.contact_import, name="import"),
    path("opt-outs/", views.opt_out_list, name="opt-outs"),
    path("opt-outs/remove/", views.opt_out_remove, name="opt-out-remove"),
    path("opt-outs/import/", views.opt_out_import, name="opt-out-import"),
]
