# The Kannel delivery fixtures of the messaging tests, for the client libraries' delivery tests.
from tests.messaging.test_kannel import funded_owner, kannel_worker  # noqa: F401
