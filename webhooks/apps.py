"""Signed webhooks: endpoints, the events they receive from the hub, deliveries and attempts (SPEC §7)."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from webhooks.services import sending

        sending.subscribe()
