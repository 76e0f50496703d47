"""Reads of an account's verifications and Verify settings. Every query is scoped to the account
(and to the key's mode: test and live never mix): another account's id is simply not found."""

from django.conf import settings

from verify.models import Verification, VerifySettings


def verification_get(*, account_id: int, is_test: bool, verification_id) -> Verification | None:
    return Verification.objects.filter(account_id=account_id, is_test=is_test, pk=verification_id).first()


def verifications_by_id(*, account_id: int, ids) -> list[Verification]:
    """The account's verifications among `ids` (test and live alike: an event names one by id), in
    one query."""
    return list(Verification.objects.filter(account_id=account_id, pk__in=list(ids)))


def template_for(*, account_id: int) -> str:
    """The text of the account's verification SMS: its own, or the product's default."""
    template = VerifySettings.objects.filter(account_id=account_id).values_list("template", flat=True).first()
    return template or settings.VERIFY_DEFAULT_TEMPLATE
