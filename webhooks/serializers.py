"""The API's answer for an endpoint (SPEC §5), one serializer for the document and the bytes."""

from rest_framework import serializers

from core.serializers import Representation, UtcDateTimeField
from webhooks.models import EVENTS


class EndpointOut(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=sorted(EVENTS)))
    enabled = serializers.BooleanField()
    created_at = UtcDateTimeField()


class EndpointCreated(EndpointOut):
    secret = serializers.CharField(help_text="The `whsec_` signing secret: shown in this answer only.")


endpoint_json = Representation(EndpointOut)
endpoint_created_json = Representation(EndpointCreated)
