"""The Verify API (SPEC §5): thin views over verify.services and verify.selectors, scope `verify`."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.response import Response

from apikeys.api import PROBLEM_MEDIA_TYPE, ApiView, Problem, operation, problems
from core.errors import not_found
from core.serializers import RefuseUnknownFields, Representation, UtcDateTimeField
from verify import selectors, services
from verify.models import Verification

# --- Serializers -------------------------------------------------------------------------------


class VerificationIn(RefuseUnknownFields, serializers.Serializer):
    to = serializers.CharField(max_length=32, help_text="E.164, e.g. +447400123456.")
    template = serializers.CharField(
        required=False,
        max_length=services.TEMPLATE_MAX_LENGTH,
        help_text="The SMS text, with `{code}` where the code goes; the account's template when left out.",
    )


class CheckIn(RefuseUnknownFields, serializers.Serializer):
    code = serializers.CharField(max_length=32, help_text="The code the person received.")


class VerificationOut(serializers.Serializer):
    id = serializers.UUIDField()
    to = serializers.CharField(help_text="E.164")
    status = serializers.ChoiceField(choices=Verification.Status.choices, source="current_status")
    expires_at = UtcDateTimeField()
    created_at = UtcDateTimeField()
    approved_at = UtcDateTimeField(allow_null=True)
    message_id = serializers.UUIDField(
        allow_null=True, help_text="The SMS that carried the code (`GET /messages/{id}`)."
    )
    test = serializers.BooleanField(source="is_test")


class CheckOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Verification.Status.choices, source="current_status")


verification_json = Representation(VerificationOut)
check_json = Representation(CheckOut)


def representations(account_id: int, ids) -> dict[str, dict]:
    """Each of the account's verifications among `ids` as `GET /verifications/{id}` answers it,
    by id (str), in one query: what the webhooks app sends as an event's `data`."""
    return {
        str(verification.pk): verification_json(verification)
        for verification in selectors.verifications_by_id(account_id=account_id, ids=ids)
    }


START_LIMITS = {
    (429, PROBLEM_MEDIA_TYPE): OpenApiResponse(
        Problem,
        description="Too many verifications of this number (`number_rate_limited`, 5 in 10 minutes) or of the "
        "account in an hour (`verify_hourly_cap_reached`), or the key's rate limit (`rate_limited`); retry after "
        "`Retry-After` seconds.",
    )
}
CHECK_REFUSALS = {
    (409, PROBLEM_MEDIA_TYPE): OpenApiResponse(
        Problem, description="Already approved (`already_approved`): a code is single use."
    ),
    (429, PROBLEM_MEDIA_TYPE): OpenApiResponse(
        Problem,
        description="Closed after 5 wrong codes (`max_attempts_reached`): start a new verification; or the key's "
        "rate limit (`rate_limited`).",
    ),
}


# --- Views -------------------------------------------------------------------------------------


class VerificationsApi(ApiView):
    required_scopes = {"POST": "verify"}

    @operation(
        "verifications_create",
        "Send a verification code",
        responses={201: VerificationOut, **problems(400, 402, 415), **START_LIMITS},
        tag="verify",
        request=VerificationIn,
        description="Generates a 6-digit code and sends it by SMS, charged like any message; the code lives 10 "
        "minutes. With a test key nothing is sent or charged and the code is `123456`. Requires the `verify` scope.",
        examples=[
            OpenApiExample("The account's template", value={"to": "+447400123456"}, request_only=True),
            OpenApiExample(
                "A template of its own",
                value={"to": "+447400123456", "template": "{code} is your ACME login code"},
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        data = VerificationIn(data=request.data)
        data.is_valid(raise_exception=True)
        auth = request.auth
        verification = services.verification_start(
            account_id=auth.account.pk,
            user=auth.user,
            caller=auth.caller,
            to=data.validated_data["to"],
            template=data.validated_data.get("template"),
            is_test=auth.is_test,
            account=auth.account,
        )
        return Response(verification_json(verification), status=status.HTTP_201_CREATED)


class VerificationApi(ApiView):
    required_scopes = {"GET": "verify"}

    @operation(
        "verifications_get", "Get a verification", responses={200: VerificationOut, **problems(404)}, tag="verify"
    )
    def get(self, request, verification_id):
        auth = request.auth
        verification = selectors.verification_get(
            account_id=auth.account.pk, is_test=auth.is_test, verification_id=verification_id
        )
        if verification is None:
            raise not_found("verification")
        return Response(verification_json(verification))


class VerificationCheckApi(ApiView):
    required_scopes = {"POST": "verify"}

    @operation(
        "verifications_check",
        "Check a verification code",
        responses={200: CheckOut, **problems(400, 404, 415), **CHECK_REFUSALS},
        tag="verify",
        request=CheckIn,
        description="`approved` once (the code is single use), `pending` after a wrong code, `expired` past its "
        "10 minutes, `max_attempts_reached` at the 5th wrong code (further checks answer 429). "
        "Requires the `verify` scope.",
        examples=[OpenApiExample("A code", value={"code": "123456"}, request_only=True)],
    )
    def post(self, request, verification_id):
        data = CheckIn(data=request.data)
        data.is_valid(raise_exception=True)
        auth = request.auth
        verification = services.verification_check(
            account_id=auth.account.pk,
            is_test=auth.is_test,
            verification_id=verification_id,
            code=data.validated_data["code"],
        )
        return Response(check_json(verification))
