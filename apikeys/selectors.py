"""Reads of API tokens and credentials. Every query takes the owning account: an object of another
account is simply not found (a 404 for the views, never a 403 that confirms it exists)."""

from django.db.models import QuerySet

from accounts.models import Membership, User
from apikeys.models import ApiCredential, ApiToken


def token_list(*, account_id: int, is_test: bool) -> QuerySet[ApiToken]:
    """Live and test tokens are listed apart: the two never mix."""
    return ApiToken.objects.filter(account_id=account_id, is_test=is_test).select_related("created_by")


def token_get(*, account_id: int, token_id: int) -> ApiToken | None:
    return ApiToken.objects.filter(account_id=account_id, pk=token_id).first()


def credential_list(*, account_id: int, is_test: bool) -> QuerySet[ApiCredential]:
    return ApiCredential.objects.filter(account_id=account_id, is_test=is_test).select_related("created_by")


def credential_get(*, account_id: int, credential_id: int) -> ApiCredential | None:
    return ApiCredential.objects.filter(account_id=account_id, pk=credential_id).first()


def can_manage_api_keys(user: User) -> bool:
    """Owners, and sub-users given `manage_api_tokens`; staff without a membership never."""
    membership: Membership | None = getattr(user, "membership", None)
    return membership is not None and user.is_active and membership.has_permission("manage_api_tokens")
