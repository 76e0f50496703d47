"""The request chain after authentication, in SPEC §5's order: account and user active → API IP
allowlist → scope. (Rate limits follow, in apikeys/throttling.py.)"""

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from apikeys.authentication import ApiAuth
from audit.context import AuditContext
from core.ip import get_client_ip
from security.services import ip_is_allowed, ip_refused


class ApiAuthenticated(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiAuth):
            raise exceptions.NotAuthenticated("Authenticate with a Bearer token or Basic credential.")
        return True


class AccountActive(BasePermission):
    def has_permission(self, request, view) -> bool:
        auth: ApiAuth = request.auth
        if not auth.account.is_active:
            raise exceptions.PermissionDenied("The account is suspended.", code="account_suspended")
        membership = getattr(auth.user, "membership", None)
        if not auth.user.is_active or membership is None or membership.account_id != auth.account.pk:
            raise exceptions.PermissionDenied(
                "The user who created this key is deactivated, so the key no longer works.", code="user_inactive"
            )
        return True


class ApiIpAllowed(BasePermission):
    def has_permission(self, request, view) -> bool:
        auth: ApiAuth = request.auth
        ip = get_client_ip(request)
        if not ip_is_allowed(account_id=auth.account.pk, scope="api", ip=ip):
            ip_refused(context=AuditContext.from_request(request), user=auth.user, account=auth.account, scope="api")
            raise exceptions.PermissionDenied(
                f"Requests from {ip or 'this address'} are not in the account's API IP allowlist.",
                code="ip_not_allowed",
            )
        return True


class HasScope(BasePermission):
    """The view names the scope of each method in `required_scopes` ({"GET": "messages:read"})."""

    def has_permission(self, request, view) -> bool:
        # HEAD runs the GET handler (Django maps it), so it needs GET's scope.
        method = "GET" if request.method == "HEAD" else request.method
        scope = view.required_scopes.get(method)
        if scope is None:
            return True
        if scope not in request.auth.scopes:
            raise exceptions.PermissionDenied(f"This request needs the `{scope}` scope.", code="insufficient_scope")
        return True


API_PERMISSIONS = [ApiAuthenticated, AccountActive, ApiIpAllowed, HasScope]
