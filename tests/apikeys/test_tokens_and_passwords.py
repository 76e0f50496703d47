"""SPEC §4.3: changing or resetting the password does not affect API tokens."""

import pytest
from django.core.management import call_command

from security.services import password_set

pytestmark = pytest.mark.django_db


def test_api_tokens_survive_a_password_change(client, owner, capsys):
    call_command("create_api_token", "--email", owner.email, "--scopes", "balance:read")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/balance", **headers).status_code == 200
    password_set(user=owner, new_password="Another-Secret-77", reason="reset")
    assert client.get("/api/v1/balance", **headers).status_code == 200
