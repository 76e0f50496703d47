"""Recording what happened. Every security-relevant service writes its event here; what follows
from an event (an owner's alert e-mail; webhooks next) subscribes to it through `audit.hub`."""

from django.db import models

from audit import hub
from audit.context import NO_CONTEXT, AuditContext
from audit.models import AuditEvent


def audit_record(
    *,
    action: str,
    account: models.Model | None = None,
    actor: models.Model | None = None,
    actor_token: str = "",
    context: AuditContext | None = None,
    request=None,
    target: models.Model | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Write one audit event and publish it on the hub. `data` must never hold a secret
    (password, token, code). Who acted and from where comes from `context` (or, for the
    services that still receive the request, from `request`)."""
    if context is None:
        context = AuditContext.from_request(request) if request is not None else NO_CONTEXT
    if actor is None:
        actor = context.actor
    if account is None and actor is not None:
        membership = getattr(actor, "membership", None)
        account = membership.account if membership is not None else None
    event = AuditEvent.objects.create(
        account=account,
        actor=actor,
        actor_token=actor_token or context.actor_token,
        action=action,
        ip=context.ip,
        user_agent=context.user_agent,
        object_type=target._meta.label_lower if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        object_repr=str(target)[:200] if target is not None else "",
        data=data or {},
    )
    hub.publish(
        hub.Event(
            action=action,
            account_id=event.account_id,
            actor_id=event.actor_id,
            audit_event_id=event.pk,
            object_type=event.object_type,
            object_id=event.object_id,
            data=event.data,
        )
    )
    return event


SECURITY_ALERT = "security.alert"


def security_alert(*, account: models.Model | None, kind: str, subject: str, body: str, hourly: bool = True) -> None:
    """Tell the account's owner about a security event. The e-mail is the subscriber's (the
    accounts app: at most one an hour per kind and account unless `hourly` is False), sent once
    this transaction commits."""
    if account is None:
        return
    hub.publish(
        hub.Event(
            action=SECURITY_ALERT,
            account_id=account.pk,
            data={"kind": kind},
            notice=hub.Notice(kind=kind, subject=subject, body=body, hourly=hourly),
        )
    )
