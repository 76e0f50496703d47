import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Workers publish delivery tasks at once; only web processes gather them (messaging/dispatch.py).
from messaging.dispatch import publish_immediately  # noqa: E402

worker_init.connect(publish_immediately, weak=False)
worker_process_init.connect(publish_immediately, weak=False)
