from django.contrib import admin

from contacts.models import Contact, Group, OptOut
from core.admin import ReadOnlyAdminMixin


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "created_at"]
    search_fields = ["name", "account__name"]
    raw_id_fields = ["account"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["phone", "name", "account", "created_at"]
    search_fields = ["phone", "name", "account__name"]
    raw_id_fields = ["account"]
    # Groups are the customer's to set (a raw id here could put a contact in another account's group).
    readonly_fields = ["groups"]


@admin.register(OptOut)
class OptOutAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read here; changed by the customer (portal, API) or the recipient (STOP/START), whose
    services audit and publish each change."""

    list_display = ["phone", "source", "account", "created_at"]
    list_filter = ["source"]
    search_fields = ["phone", "account__name"]
    raw_id_fields = ["account"]
