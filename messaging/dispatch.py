"""Publishing delivery work: the messages of many requests in one Celery task.

Publishing a Celery message costs about half a millisecond of CPU, as much as the rest of an API
request that accepts one message. So a committed request only adds its message ids to this
process's buffer, and a thread publishes them as tasks of up to `DELIVERY_BATCH` ids: at once
when nothing was published in the last `SMS_DISPATCH_INTERVAL` seconds (100 ms), otherwise when
that interval since the last publish is over. A message sent alone leaves without delay; under
load, one publish carries dozens of requests' messages, each waiting at most the interval (a
delay no one sees on an SMS); when idle, the thread sleeps and costs nothing.

Nothing is lost if this process dies with ids in its buffer: the messages are committed as
`queued`, and the recovery sweep `messages_requeue_stale` enqueues them again within
SMS_REQUEUE_AFTER. Celery worker processes publish at once (`publish_immediately`), since their
jobs already work in batches.

System messages (security codes) skip the buffer: their commit hook calls `publish` itself
(`enqueue_delivery(..., at_once=True)`), since a code should not wait even for the sweep.
"""

import atexit
import logging
import os
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

DELIVERY_BATCH = 100


def publish(ids: list[str]) -> None:
    """One `deliver_messages` task per DELIVERY_BATCH ids, now. Never raises: a broker outage
    leaves the messages `queued` for the recovery sweep, and must not fail a committed request."""
    from messaging.tasks import deliver_messages

    for start in range(0, len(ids), DELIVERY_BATCH):
        chunk = ids[start : start + DELIVERY_BATCH]
        try:
            deliver_messages.delay(chunk)
        except Exception as exc:
            # The class only: a broker error's text may carry its URL and credentials.
            logger.error(
                "Could not publish %d message ids for delivery (%s); the recovery sweep will.",
                len(chunk),
                type(exc).__name__,
            )


class Dispatcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._wake = threading.Event()
        self._pid: int | None = None  # the process the flusher thread runs in (threads do not survive fork)
        self._thread: threading.Thread | None = None
        self._published_at = float("-inf")  # time.monotonic() of the last publish
        self.immediate = False

    def add(self, ids: list[str]) -> None:
        interval = settings.SMS_DISPATCH_INTERVAL
        if self.immediate or not interval or len(ids) >= DELIVERY_BATCH:
            publish(ids)  # nothing to gain from waiting: a full task already
            return
        with self._lock:
            self._pending.extend(ids)
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._pid = os.getpid()
                self._wake = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(interval,), name="sms-dispatch", daemon=True)
                self._thread.start()
            self._wake.set()

    def flush(self) -> None:
        with self._lock:
            ids, self._pending = self._pending, []
            self._wake.clear()
        if ids:
            self._published_at = time.monotonic()
            publish(ids)

    def _run(self, interval: float) -> None:
        wake = self._wake
        while True:
            wake.wait()
            # Within the interval after a publish, let more requests' ids gather until it ends.
            delay = self._published_at + interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                self.flush()
            except Exception:  # publish() logs its own failures; this keeps the thread alive whatever else
                logger.exception("The delivery dispatcher could not flush.")


dispatcher = Dispatcher()
# A graceful exit (gunicorn's max_requests restart, a deploy) publishes what is still buffered.
atexit.register(dispatcher.flush)


def publish_immediately(**_kwargs) -> None:
    """Celery worker processes publish at once (connected to worker_init/worker_process_init)."""
    dispatcher.immediate = True
