from django.contrib import admin

from contacts.models import Contact, Group


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
