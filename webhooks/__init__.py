"""Signed webhooks: endpoints, the events they receive from the hub, deliveries and attempts (SPEC §7)."""
