"""The admin's user page with what members adds: a user staff deactivate there goes through the one
deactivation service (signed out, API keys disabled, one audit event), as on the Users page."""

from django.contrib import admin

from accounts.models import User
from audit.context import AuditContext
from members.services import user_deactivate
from security.admin import SecureUserAdmin


class MemberUserAdmin(SecureUserAdmin):
    def save_model(self, request, obj, form, change):
        deactivated = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivated:
            user_deactivate(user=obj, actor=request.user, context=AuditContext.from_request(request))


admin.site.unregister(User)
admin.site.register(User, MemberUserAdmin)
