"""The portal's security policy on every request of a signed-in user, in this order:

1. session limits: the user's inactivity timeout (sliding) and the 12-hour absolute limit;
2. the account's portal IP allowlist (a clear 403 page, an audit event, an alert);
3. two-factor sign-in required (account policy, or staff) but not set up: confined to enrolment;
4. a password past its age in `force` mode: confined to the change page.
"""

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from audit.context import AuditContext
from core.ip import get_client_ip
from security import services
from security.models import IPAllowlistEntry
from security.session_store import IP_KEY, LAST_SEEN_KEY, STARTED_KEY, USER_AGENT_KEY

# Sessions are written at most this often just to slide the expiry and record activity.
TOUCH_INTERVAL_SECONDS = 60

# Not portal pages: static files, probes, and the API (token-authenticated, with its own checks).
UNCHECKED_PREFIXES = ("/static/", "/healthz", "/readyz", "/api/")
LOGOUT_PATH = "/accounts/logout/"
TWO_FACTOR_SETUP_PREFIX = "/accounts/security/two-factor/"


class SecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith(UNCHECKED_PREFIXES):
            return self.get_response(request)
        response = self._enforce(request, user)
        return response if response is not None else self.get_response(request)

    def _enforce(self, request, user):
        now = timezone.now()
        session = request.session
        started = _parse(session.get(STARTED_KEY))
        last_seen = _parse(session.get(LAST_SEEN_KEY))
        timeout = services.session_timeout_minutes(user) * 60
        if started and (now - started) > settings.SESSION_ABSOLUTE_LIMIT:
            return self._end(request, "Your session reached its 12-hour limit. Please sign in again.")
        if last_seen and (now - last_seen).total_seconds() > timeout:
            return self._end(request, "You were signed out after a period of inactivity. Please sign in again.")
        if last_seen is None or (now - last_seen).total_seconds() > TOUCH_INTERVAL_SECONDS:
            session[LAST_SEEN_KEY] = now.isoformat()
            session[IP_KEY] = get_client_ip(request)
            session[USER_AGENT_KEY] = request.META.get("HTTP_USER_AGENT", "")[:300]
            session.setdefault(STARTED_KEY, now.isoformat())
            session.set_expiry(timeout)

        if request.path == LOGOUT_PATH:
            # Signing out only ends the session: allowed from anywhere, including from the
            # refused-address page's own "Sign out" button.
            return None
        account = user.account
        if account is not None and not services.ip_is_allowed(
            account_id=account.pk, scope=IPAllowlistEntry.Scope.PORTAL, ip=get_client_ip(request)
        ):
            services.ip_refused(context=AuditContext.from_request(request), user=user, account=account, scope="portal")
            return render(
                request, "security/ip_refused.html", {"ip": get_client_ip(request), "account": account}, status=403
            )

        if services.two_factor_required(user) and not user.is_verified():
            if services.has_two_factor(user):
                # A session that predates the requirement: sign in again, with the second step.
                return self._end(request, "Your account now requires two-factor sign-in. Please sign in again.")
            # Enrolment needs a recent authentication: the re-authentication page stays reachable.
            if not request.path.startswith(TWO_FACTOR_SETUP_PREFIX) and request.path != reverse(
                "security:reauthenticate"
            ):
                messages.warning(request, "Your account requires two-factor sign-in. Set it up to continue.")
                return redirect("security:two-factor-setup")
            return None

        if services.password_change_forced(user) and request.path != reverse("security:password-change"):
            messages.warning(request, "Your password is too old. Choose a new one to continue.")
            return redirect("security:password-change")
        return None

    def _end(self, request, message: str):
        logout(request)
        messages.info(request, message)
        return redirect(settings.LOGIN_URL)


def _parse(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
