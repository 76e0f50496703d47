"""The opt-out as the API answers it (SPEC §5), in one place: the API's views, the event an
opt-out publishes (its `data`, what a webhook carries) and the bulk lookup the webhooks app
renders current representations with all read it here."""

from rest_framework import serializers

from contacts.models import OptOut
from core.serializers import Representation, UtcDateTimeField


class OptOutOut(serializers.Serializer):
    phone = serializers.CharField(help_text="E.164")
    source = serializers.ChoiceField(choices=OptOut.Source.choices, help_text="How it was made.")
    created_at = UtcDateTimeField()


opt_out_json = Representation(OptOutOut)


def representations(account_id: int, ids) -> dict[str, dict]:
    """The account's opt-outs among the numbers `ids`, each as the API answers it, in one query
    (a number no longer opted out is simply absent)."""
    opt_outs = OptOut.objects.filter(account_id=account_id, phone__in=list(ids))
    return {opt_out.phone: opt_out_json(opt_out) for opt_out in opt_outs}
