"""Rate limits per key and per account: atomic Redis counters in fixed one-minute windows, so
any number of parallel clients get at most the limit, leased a few units at a time by a busy
process (core.ratelimit.Quota). Configurable per account (and per key) by staff."""

import time

from rest_framework.throttling import BaseThrottle

from apikeys.authentication import ApiAuth
from core import ratelimit

WINDOW_SECONDS = 60


class ApiRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        auth = request.auth
        if not isinstance(auth, ApiAuth):
            return True
        account = auth.account
        key_limit = auth.parent.rate_limit_per_minute or account.api_token_rate_limit_per_minute
        limits = [
            (f"api:key:{auth.caller}", key_limit),
            (f"api:account:{account.pk}", account.api_rate_limit_per_minute),
        ]
        now = time.time()
        self.reset = int(WINDOW_SECONDS - now % WINDOW_SECONDS) or WINDOW_SECONDS
        allowed, left = ratelimit.quota.take(
            [key for key, _ in limits], [limit for _, limit in limits], window_seconds=WINDOW_SECONDS
        )
        index = min(range(len(limits)), key=lambda i: (left[i], i))
        request.rate_limit = {"limit": limits[index][1], "remaining": left[index], "reset": self.reset}
        return allowed

    def wait(self) -> float:
        return self.reset
