import pytest


@pytest.fixture(autouse=True)
def _email_tasks_in_process(email_tasks):
    """E-mail tasks queued by these tests, the invitation's too, run in this process
    (tests/conftest.py `EmailTasks`)."""
    from members import tasks

    email_tasks.intercept(tasks.send_invitation_email)
