import os

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Workers publish delivery tasks at once; only web processes gather them (messaging/dispatch.py).
from messaging import workers  # noqa: E402
from messaging.dispatch import publish_immediately  # noqa: E402

worker_init.connect(publish_immediately, weak=False)
worker_process_init.connect(publish_immediately, weak=False)
# Claims name the worker that made them, and a worker (re)starting runs the recovery sweep at once
# (messaging/workers.py): what a killed predecessor held leaves within SMS_REQUEUE_AFTER.
worker_init.connect(workers.worker_started, weak=False)
worker_ready.connect(workers.worker_ready, weak=False)
