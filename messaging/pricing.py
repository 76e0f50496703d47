"""Destination countries and prices: computed once per request, not per recipient."""

import time
from decimal import Decimal

from django.conf import settings

from messaging.models import PriceRule

PRICE_CACHE_SECONDS = 30
_cached: tuple[float, dict] | None = None


def _rules() -> dict:
    """Price rules change rarely: a process keeps them for 30 seconds (a new price applies to
    requests from then on; a request is always priced from one consistent list)."""
    global _cached
    now = time.monotonic()
    if _cached is None or now - _cached[0] > PRICE_CACHE_SECONDS or not settings.API_LOCAL_CACHE_SECONDS:
        _cached = (now, dict(PriceRule.objects.values_list("country", "price_per_segment")))
    return dict(_cached[1])


class PriceList:
    """Points per segment by ISO country code, loaded once per request (at most one query)."""

    def __init__(self) -> None:
        rules = _rules()
        self.default = rules.pop("", None)
        if self.default is None:
            self.default = Decimal(settings.SMS_DEFAULT_PRICE_PER_SEGMENT)
        self.by_country = rules

    def per_segment(self, country: str) -> Decimal:
        return self.by_country.get(country, self.default)
