import pytest


@pytest.fixture(autouse=True)
def _email_tasks_in_process(email_tasks):
    """E-mail tasks queued by these tests run in this process (tests/conftest.py `EmailTasks`)."""
