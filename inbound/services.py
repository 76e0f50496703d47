"""Inbound SMS (SPEC §3, §6): receiving one (the Kannel hook and `receive_sms` take this one path),
the STOP/START keywords, assigning numbers, the confirmation reply and replying from the inbox."""

import hashlib
import json
import re
import unicodedata

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, User
from audit import hub
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from contacts.models import OptOut
from contacts.services import opt_out_add, opt_out_remove
from core.errors import ApplicationError, Forbidden, not_found
from core.phone import parse_recipient
from core.text import UNSTORABLE
from inbound.models import InboundMessage, InboundNumber, InboundSettings
from inbound.selectors import inbound_get, reply_settings
from messaging.services import message_send_system, message_submit
from messaging.services.submit import SubmitResult

MESSAGE_RECEIVED = "message.received"
SHORT_CODE = re.compile(r"\d{3,8}")
E164_FORM = re.compile(r"\+[1-9]\d{6,14}")
OPT_OUT, OPT_IN = "opt_out", "opt_in"


def inbound_number_normalize(raw) -> str | None:
    """An inbound number as stored: a short code (3 to 8 digits) as it is, any other number in
    E.164 (written in the E.164 form, a number of a range too new for the phone library's data is
    taken as it is); None for anything else."""
    value = raw.strip() if isinstance(raw, str) else ""
    if SHORT_CODE.fullmatch(value):
        return value
    parsed = parse_recipient(value) if not UNSTORABLE.search(value) else None
    if parsed is not None:
        return parsed[0]
    value = value if value.startswith("+") else "+" + value
    return value if E164_FORM.fullmatch(value) else None


def keyword_of(text: str) -> str | None:
    """OPT_OUT or OPT_IN when the whole text, trimmed, is one of the keywords (any case, trailing
    punctuation ignored: "Stop!" is STOP), else None."""
    word = text.strip()
    while word and (unicodedata.category(word[-1]).startswith("P") or word[-1].isspace()):
        word = word[:-1]
    word = word.casefold()
    if not word:
        return None
    if word in {keyword.strip().casefold() for keyword in settings.SMS_OPT_OUT_KEYWORDS}:
        return OPT_OUT
    if word in {keyword.strip().casefold() for keyword in settings.SMS_OPT_IN_KEYWORDS}:
        return OPT_IN
    return None


def _dedupe_key(*, sender: str, recipient: str, text: str, ts: int | None, now) -> str:
    moment = ts if ts is not None else now.replace(second=0, microsecond=0).isoformat()
    return hashlib.sha256(json.dumps([sender, recipient, text, moment]).encode()).hexdigest()


def inbound_receive(
    *, sender: str, recipient: str, text: str, smsc: str = "", ts: int | None = None, context: AuditContext = NO_CONTEXT
) -> InboundMessage | None:
    """Store one SMS sent to an inbound number, or None when it is a repeat of one stored (the
    same from, to, text and Kannel ts; without a ts, within the same minute): a repeat changes
    nothing. For an assigned number, the account's event `message.received` and, for a keyword
    from a phone number, its opt-out added or removed (source `sms`, audited) and the account's
    confirmation reply sent (free, from the inbound number). Callers check the input's size."""
    parsed = parse_recipient(sender)
    sender = parsed[0] if parsed is not None else sender.strip()
    recipient = inbound_number_normalize(recipient) or recipient.strip()
    now = timezone.now()
    with transaction.atomic():
        number = InboundNumber.objects.select_related("account").filter(number=recipient).first()
        account = number.account if number is not None else None
        try:
            with transaction.atomic():
                message = InboundMessage.objects.create(
                    account=account,
                    sender=sender,
                    recipient=recipient,
                    text=text,
                    received_at=now,
                    smsc=smsc,
                    kannel_ts=ts,
                    dedupe_key=_dedupe_key(sender=sender, recipient=recipient, text=text, ts=ts, now=now),
                )
        except IntegrityError:
            return None
        if account is None:
            return message
        hub.publish(
            hub.Event(action=MESSAGE_RECEIVED, account_id=account.pk, object_type="inbound", object_id=str(message.pk))
        )
        kind = keyword_of(text) if parsed is not None else None
        if kind is not None:
            _keyword(kind, account=account, number=number, phone=sender, context=context)
    return message


def _keyword(kind: str, *, account: Account, number: InboundNumber, phone: str, context: AuditContext) -> None:
    if kind == OPT_OUT:
        _, changed = opt_out_add(account_id=account.pk, phone=phone, source=OptOut.Source.SMS, context=context)
    else:
        changed = opt_out_remove(account_id=account.pk, phone=phone, context=context, missing_ok=True)
    # Confirmed only when something changed: a "YES" that answers a customer's question from a
    # number that never opted out, or a STOP sent again, gets no free SMS (nor does a pump).
    answer = reply_settings(account_id=account.pk)
    if changed and answer.confirmation_reply and account.is_active:
        text = answer.opt_out_reply if kind == OPT_OUT else answer.opt_in_reply
        message_send_system(account=account, user=None, to=phone, text=text, sender=number.number)


def inbound_number_assign(*, number: str, account_id: int | None, context: AuditContext = NO_CONTEXT) -> InboundNumber:
    """Assign the number to the account (created when new; moved when another account had it;
    None: to nobody), audited in each account concerned. SMS already received stay where they
    landed."""
    normalized = inbound_number_normalize(number)
    if normalized is None:
        raise ApplicationError(
            "An inbound number is a number in international format (+4930123456) or a short code of 3 to 8 digits.",
            code="invalid_number",
            errors={"number": ["Not a number in international format or a short code."]},
        )
    with transaction.atomic():
        InboundNumber.objects.get_or_create(number=normalized)
        row = InboundNumber.objects.select_for_update().get(number=normalized)
        previous = row.account_id
        if previous == account_id:
            return row
        row.account_id = account_id
        row.assigned_at = timezone.now() if account_id is not None else None
        row.save(update_fields=["account", "assigned_at"])
        if account_id is not None:
            data = {"number": normalized, "moved_from_account": previous}
            audit_record(
                action="inbound.number_assigned", account=Account(pk=account_id), context=context, target=row, data=data
            )
        if previous is not None:
            data = {"number": normalized, "to_account": account_id}
            audit_record(
                action="inbound.number_unassigned", account=Account(pk=previous), context=context, target=row, data=data
            )
    return row


def inbound_reply(*, account_id: int, user: User, message_id, text: str, caller: str) -> SubmitResult:
    """Answer an inbound message: a normal send (charged, the sub-user's rules, opt-outs) to its
    sender, from the inbound number it was sent to, which must still be the account's."""
    message = inbound_get(account_id=account_id, message_id=message_id)
    if message is None:
        raise not_found("inbound message")
    if not InboundNumber.objects.filter(account_id=account_id, number=message.recipient).exists():
        raise Forbidden(
            f"{message.recipient} is no longer one of this account's numbers: replies cannot come from it.",
            code="sender_not_allowed",
        )
    return message_submit(
        account_id=account_id,
        user=user,
        caller=caller,
        to=[message.sender],
        text=text,
        sender=message.recipient,
        own_numbers=frozenset({message.recipient}),
    )


def inbound_settings_update(
    *, account_id: int, confirmation_reply: bool, opt_out_reply: str, opt_in_reply: str, context: AuditContext
) -> InboundSettings:
    for name, value in (("opt_out_reply", opt_out_reply), ("opt_in_reply", opt_in_reply)):
        if confirmation_reply and not value.strip():
            raise ApplicationError("Write the reply, or switch replies off.", errors={name: ["Required."]})
    answer, _ = InboundSettings.objects.update_or_create(
        account_id=account_id,
        defaults={
            "confirmation_reply": confirmation_reply,
            "opt_out_reply": opt_out_reply.strip() or InboundSettings.DEFAULT_OPT_OUT_REPLY,
            "opt_in_reply": opt_in_reply.strip() or InboundSettings.DEFAULT_OPT_IN_REPLY,
        },
    )
    audit_record(
        action="inbound.settings_changed",
        account=Account(pk=account_id),
        context=context,
        data={"confirmation_reply": confirmation_reply},
    )
    return answer
