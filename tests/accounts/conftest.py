import pytest


class EmailTasks:
    """The e-mail tasks queued during a test, as (task name, kwargs, options).

    The suite has no Celery worker unless a test starts one, so by default a queued e-mail task
    runs at once in this process (after the commit, where the request queued it) and
    `mailoutbox` shows what a worker would send. `hold()` keeps them here until `run()`, to see
    what a request did by itself; `to_broker()` publishes them for a real worker.
    """

    def __init__(self) -> None:
        self.queued: list[tuple[str, dict, dict]] = []
        self.mode = "inline"
        self._held: list = []
        self._originals: dict = {}

    def hold(self) -> None:
        self.mode = "hold"

    def to_broker(self) -> None:
        self.mode = "broker"

    def run(self) -> None:
        held, self._held = self._held, []
        for task, kwargs in held:
            task.apply(kwargs=kwargs, throw=True)

    def _apply_async(self, task, args=None, kwargs=None, **options):
        self.queued.append((task.name, dict(kwargs or {}), options))
        if self.mode == "broker":
            return self._originals[task.name](args=args, kwargs=kwargs, **options)
        if self.mode == "hold":
            self._held.append((task, kwargs))
            return None
        return task.apply(args=args, kwargs=kwargs, throw=True)


@pytest.fixture(autouse=True)
def email_tasks(monkeypatch) -> EmailTasks:
    from accounts import tasks
    from security import tasks as security_tasks

    recorder = EmailTasks()
    for task in (tasks.send_notice_email, security_tasks.send_password_reset_email):
        recorder._originals[task.name] = task.apply_async
        monkeypatch.setattr(
            task,
            "apply_async",
            lambda args=None, kwargs=None, _task=task, **options: recorder._apply_async(_task, args, kwargs, **options),
        )
    return recorder
