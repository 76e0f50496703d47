"""Fixtures of the messaging tests."""

from decimal import Decimal

import pytest

from messaging.models import PriceRule


@pytest.fixture
def signed_in(client, owner):
    PriceRule.objects.update_or_create(country="", defaults={"price_per_segment": Decimal("1")})
    client.force_login(owner)
    return client
