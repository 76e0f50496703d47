from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from core import localcache


@pytest.fixture
def one_second_cache(settings):
    """Production's per-process cache of key lookups (the suite runs with it off)."""
    settings.API_LOCAL_CACHE_SECONDS = 1
    localcache.clear()
    yield
    localcache.clear()


@pytest.fixture
def fresh_window():
    """Travel to 5 s into a minute (the clock ticks on from there): 55 s before the window ends."""
    now = datetime.now(tz=UTC)
    start = now.replace(second=5, microsecond=0) + timedelta(minutes=10)
    with time_machine.travel(start, tick=True):
        yield start
