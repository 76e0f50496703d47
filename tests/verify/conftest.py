"""Fixtures of the Verify tests."""

import pytest

from tests import api_support as api


@pytest.fixture
def live(owner):
    """A live API token with the `verify` scope (and `messages:read`, to look at the SMS)."""
    _, secret = api.make_token(owner, scopes=["verify", "messages:read"])
    return api.bearer(secret)


@pytest.fixture
def delivered(sms_delivery_inline, django_capture_on_commit_callbacks):
    """Run a request with its commit hooks, so its SMS is handed to the locmem gateway at once."""

    def run(action):
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return run
