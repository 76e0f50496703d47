from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp.admin import OTPAdminSite


class PortalAdminSite(OTPAdminSite):
    """The Django admin for staff: only a session that passed the second factor gets in.

    Sign-in goes through the portal's own two-step sign-in (lockout, IP checks, 2FA); staff
    without a second factor are sent to set one up first.
    """

    site_header = "SMS Portal administration"
    site_title = "SMS Portal admin"

    def login(self, request, extra_context=None):
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
        if request.user.is_authenticated and request.user.is_staff and not request.user.is_verified():
            return redirect("security:two-factor-setup")
        if request.user.is_authenticated and not request.user.is_staff:
            # Signed in, but no staff member: the portal's sign-in would send them straight back.
            raise PermissionDenied("The administration is for staff.")
        return redirect(reverse("security:login") + "?" + urlencode({REDIRECT_FIELD_NAME: target}))
