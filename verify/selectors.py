"""Reads of an account's verifications and Verify settings. Every query is scoped to the account
(and to the key's mode: test and live never mix): another account's id is simply not found."""

import uuid

from django.conf import settings

from verify.models import Verification, VerifySettings


def verification_get(*, account_id: int, is_test: bool, verification_id) -> Verification | None:
    return Verification.objects.filter(account_id=account_id, is_test=is_test, pk=verification_id).first()


def verifications_by_id(*, account_id: int, ids) -> list[Verification]:
    """The account's verifications among `ids` (test and live alike: an event names one by id), in
    one query. What is not a verification id at all finds nothing."""
    valid = []
    for value in ids:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(Verification.objects.filter(account_id=account_id, pk__in=valid))


def template_for(*, account_id: int) -> str:
    """The text of the account's verification SMS: its own, or the product's default."""
    template = VerifySettings.objects.filter(account_id=account_id).values_list("template", flat=True).first()
    return template or settings.VERIFY_DEFAULT_TEMPLATE
