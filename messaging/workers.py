"""The delivery workers as the recovery sweep sees them (messaging/services/recovery.py).

A claim records the worker process that made it (`claim_tag`: this start of the worker, the
process id, the worker's name). The sweep asks every live worker, over Celery's broadcast, what
it holds (`delivery_holdings`, one reply per worker): the message ids of its delivery tasks,
running, waiting for a pool slot or for a retry's countdown, and the tags of its processes.
From the replies it knows the messages no live worker holds and the claims whose process is
provably gone: its worker answered as another start (restarted under the same name) or without
that process (a pool child that died).

Imported by portal/celery.py before Django is set up: nothing here touches the models.
"""

import logging
import os
import uuid
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

DELIVERY_TASK = "messaging.tasks.deliver_messages"

# This start of the process: a prefork pool's children inherit it and differ by their pid; a
# restarted worker, even under the same name and pid (a container's pid 1), has another.
_BOOT = uuid.uuid4().hex[:12]
_worker = {"hostname": ""}


def worker_started(sender=None, **_kwargs) -> None:
    """worker_init: the worker's name, for the tags of its claims (inherited by its pool), and
    the answer to the sweep's question (registered in workers only: web processes never load
    Celery's worker modules)."""
    from celery.worker.control import inspect_command

    _worker["hostname"] = getattr(sender, "hostname", "") or ""
    inspect_command()(delivery_holdings)


def claim_tag() -> str:
    """The tag of a claim made by this process (outside a worker: no name, never provably gone)."""
    return f"{_BOOT} {os.getpid()} {_worker['hostname']}"[:200]


def worker_ready(**_kwargs) -> None:
    """worker_ready: a worker (re)starting sweeps at once, and again after SMS_REQUEUE_SWEEP, by
    when everything a dead predecessor held is old enough for the sweep to take."""
    from django.conf import settings

    from messaging.tasks import requeue_stale_messages

    requeue_stale_messages.apply_async()
    requeue_stale_messages.apply_async(countdown=settings.SMS_REQUEUE_SWEEP.total_seconds())


def delivery_holdings(state) -> dict:
    """This worker's delivery work (the remote command of that name): the message ids of every
    delivery task it has received and not finished, and its processes (itself and its pool's
    children)."""
    from celery.worker import state as worker_state

    pool = state.consumer.pool
    processes = (pool.info.get("processes") or []) if pool is not None else []
    messages = []
    for request in list(worker_state.requests.values()):
        if request.name == DELIVERY_TASK and request.args:
            messages.extend(str(message_id) for message_id in request.args[0])
    return {"boot": _BOOT, "pids": [os.getpid(), *processes], "messages": messages}


@dataclass(frozen=True)
class Holdings:
    """What the live workers answered: the message ids they hold, the tags of their processes,
    and the names of the workers that answered."""

    messages: frozenset[str] = field(default_factory=frozenset)
    processes: frozenset[str] = field(default_factory=frozenset)
    workers: frozenset[str] = field(default_factory=frozenset)

    def claim_is_orphaned(self, tag: str) -> bool:
        """Whether the process that made a claim is provably gone: its worker answered, and not
        as that process. A worker that did not answer proves nothing (it may be busy, or cut
        off from the broker while it still sends): its claims wait for the watchdog."""
        hostname = tag.split(" ", 2)[-1] if tag.count(" ") >= 2 else ""
        return bool(hostname) and hostname in self.workers and tag not in self.processes


def live_holdings(app, timeout: float = 1.0) -> Holdings:
    """Ask every live worker of `app` what it holds (one broadcast, waiting `timeout` seconds for
    the replies). A reply of another shape (a worker of an older release) counts as no answer."""
    messages: set[str] = set()
    processes: set[str] = set()
    workers: set[str] = set()
    for reply in app.control.broadcast("delivery_holdings", reply=True, timeout=timeout) or []:
        for hostname, answer in reply.items():
            if not (isinstance(answer, dict) and {"boot", "pids", "messages"} <= answer.keys()):
                logger.warning("Worker %s did not report its delivery holdings.", hostname)
                continue
            workers.add(hostname)
            messages.update(answer["messages"])
            processes.update(f"{answer['boot']} {pid} {hostname}"[:200] for pid in answer["pids"])
    return Holdings(frozenset(messages), frozenset(processes), frozenset(workers))
