"""The API's answers: one DRF serializer per resource defines each answer (for the OpenAPI
document and for the bytes sent), and `Representation` renders an object with that serializer's
own fields, without the per-call cost of making a serializer.

DRF deep-copies every declared field of each serializer it makes, and walks each field through
its generic attribute lookup: for the send's answer (one item per recipient, up to 10,000) and
the lists, more CPU than building the answer. `Representation(SomeOut)` makes the serializer
once per process and writes a function from its readable fields (the attribute each reads, the
field's own `to_representation`): the same keys in the same order and the same values as
`SomeOut(instance).data`, at about the cost of a hand-written dict (tests/core/
test_representations.py renders many varied objects both ways and compares the bytes).
"""

import functools
import inspect
import keyword
import types
from collections.abc import Callable, Iterable, Mapping

from django.core.exceptions import ObjectDoesNotExist
from django.db.models.manager import BaseManager
from rest_framework import serializers
from rest_framework.fields import SkipField

from core.api import iso_z


def points_text(value) -> str:
    return f"{value:.4f}"


class UtcDateTimeField(serializers.DateTimeField):
    """A time as every answer of the API gives it: ISO 8601 in UTC with a `Z`, to the second
    (SPEC §5). Reading a request's time is DRF's."""

    to_representation = staticmethod(iso_z)


class PointsField(serializers.DecimalField):
    """An amount of points (a cost, a balance, a limit) as the API writes it: a string with four
    decimals, "12.5000"."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=16, decimal_places=4, coerce_to_string=True, **kwargs)

    to_representation = staticmethod(points_text)


# DRF fields whose to_representation is a builtin conversion (their code: `return str(value)`, …).
_BUILTIN = {serializers.CharField.to_representation: str, serializers.IntegerField.to_representation: int}


def _convert(field: serializers.Field) -> Callable:
    if isinstance(field, serializers.ListSerializer) and isinstance(field.child, serializers.Serializer):
        item = _compile(field.child)

        def convert(data):
            return [item(each) for each in (data.all() if isinstance(data, BaseManager) else data)]

        return convert
    if isinstance(field, serializers.Serializer):
        return _compile(field)
    method = type(field).to_representation
    if method in _BUILTIN:
        return _BUILTIN[method]
    if method is serializers.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        return str
    return field.to_representation


def _drf_render(serializer: serializers.Serializer, fields: list[tuple[str, serializers.Field, Callable]]):
    """The answer by DRF's own rules (Serializer.to_representation), with nested serializers
    compiled too: for an object whose fields are not all plain attributes."""

    def render(instance) -> dict:
        if isinstance(instance, Mapping):
            return serializer.to_representation(instance)
        answer = {}
        for name, field, convert in fields:
            try:
                value = field.get_attribute(instance)
            except SkipField:
                continue
            answer[name] = None if value is None else convert(value)
        return answer

    return render


_METHODS = (staticmethod, classmethod, functools.partial, types.MethodDescriptorType, types.BuiltinFunctionType)


def _reads_plainly(cls: type, attrs: list[str]) -> bool:
    """Whether reading these attributes of a `cls` object is what DRF's lookup does: not a
    mapping (DRF reads its keys), and no attribute a method (DRF calls it)."""
    if issubclass(cls, Mapping):
        return False
    for attr in attrs:
        static = inspect.getattr_static(cls, attr, None)
        if inspect.isfunction(static) or isinstance(static, _METHODS):
            return False
    return True


def _compile(serializer: serializers.Serializer) -> Callable[[object], dict]:
    """A function written for this serializer: each readable field's attribute read directly,
    None kept as None (as DRF does), anything else through the field's own `to_representation`
    (or the builtin it amounts to). A mapping, an object of a class with a method of one of the
    names, or one that lacks one of the attributes is rendered by DRF's rules instead."""
    fields = [(field.field_name, field, _convert(field)) for field in serializer._readable_fields]
    drf_render = _drf_render(serializer, fields)
    attrs = [field.source_attrs[0] if len(field.source_attrs) == 1 else "" for _, field, _ in fields]
    if not fields or not all(attr.isidentifier() and not keyword.iskeyword(attr) for attr in attrs):
        return drf_render
    plain_classes: dict[type, bool] = {}

    def plain(cls: type) -> bool:
        verdict = plain_classes[cls] = _reads_plainly(cls, attrs)
        return verdict

    namespace = {"drf_render": drf_render, "plain_classes": plain_classes, "plain": plain}
    namespace["missing"] = (AttributeError, ObjectDoesNotExist)
    reads, items = [], []
    for index, ((name, _, convert), attr) in enumerate(zip(fields, attrs, strict=True)):
        namespace[f"c{index}"] = convert
        reads.append(f"        v{index} = instance.{attr}")
        items.append(f"        {name!r}: None if v{index} is None else c{index}(v{index}),")
    source = "\n".join(
        [
            "def render(instance):",
            "    verdict = plain_classes.get(type(instance))",
            "    if not (verdict or (verdict is None and plain(type(instance)))):",
            "        return drf_render(instance)",
            "    try:",
            *reads,
            "    except missing:",
            "        return drf_render(instance)",
            "    return {",
            *items,
            "    }",
        ]
    )
    exec(compile(source, f"<representation of {type(serializer).__name__}>", "exec"), namespace)  # noqa: S102
    return namespace["render"]


class Representation:
    """`serializer_class(instance).data` as a plain dict (the serializer is made on first use)."""

    def __init__(self, serializer_class: type[serializers.Serializer]) -> None:
        self.serializer_class = serializer_class
        self._render: Callable[[object], dict] | None = None

    def __call__(self, instance) -> dict:
        if self._render is None:
            self._render = _compile(self.serializer_class())
        return self._render(instance)

    def many(self, instances: Iterable) -> list[dict]:
        return [self(instance) for instance in instances]


# --- Requests: unknown fields are refused -----------------------------------------------------------
#
# A field the endpoint does not know is most often a name from another provider's API ("from" for
# the sender): ignoring it would send under the default sender. /api/v1's request serializers
# refuse it (400 `invalid_request`, the field named in `errors`, with the name it probably meant);
# the compatibility dialects (/3rdparty/v1, /smsapi/) keep ignoring what they do not read, as the
# APIs they imitate do, so the rule is opt-in per serializer.

# An unknown name → the fields it may mean, in order: the first one the serializer has is suggested.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "from": ("sender",),
    "sender_id": ("sender",),
    "sender_name": ("sender",),
    "originator": ("sender",),
    "to": ("phone",),
    "recipient": ("to", "phone"),
    "recipients": ("to",),
    "destination": ("to",),
    "number": ("phone", "to"),
    "numbers": ("to",),
    "phone": ("to",),
    "phone_number": ("phone", "to"),
    "msisdn": ("phone", "to"),
    "message": ("text",),
    "body": ("text",),
    "content": ("text",),
    "groups": ("to_groups",),
    "group_ids": ("to_groups", "groups"),
    "send_at": ("scheduled_at",),
    "schedule": ("scheduled_at",),
    "date": ("scheduled_at",),
    "client_reference": ("reference",),
    "event": ("events",),
    "event_types": ("events",),
    "endpoint": ("url",),
    "webhook_url": ("url",),
    "scope": ("scopes",),
    "expires_in": ("ttl",),
    "otp": ("code",),
    "token": ("code",),
}


def unknown_field_errors(data: Mapping, known) -> dict[str, list[str]]:
    """{unknown field: [message]} for the fields of `data` not in `known`, each with the field it
    probably meant when FIELD_ALIASES knows one of `known`."""
    errors = {}
    for name in sorted(data.keys() - known, key=str):
        meant = next((field for field in FIELD_ALIASES.get(name, ()) if field in known), None)
        errors[name] = [f"Unknown field: did you mean `{meant}`?" if meant else "Unknown field."]
    return errors


class RefuseUnknownFields:
    """Mixin for a request serializer: a field it does not declare is a validation error (with the
    other fields' errors, if any), instead of being dropped."""

    def to_internal_value(self, data):
        unknown = unknown_field_errors(data, self.fields.keys()) if isinstance(data, Mapping) else {}
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                exc.detail.update(serializers.ValidationError(unknown).detail)
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return values
