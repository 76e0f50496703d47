"""Staff see endpoints and deliveries in the admin, read-only, never a secret or a URL's query."""

import pytest

from tests.conftest import verified_staff_client
from webhooks.services import deliveries_send, endpoint_create, endpoint_test

pytestmark = pytest.mark.django_db


def test_staff_see_endpoints_and_deliveries_without_secrets(account_owner, receiver):
    new = endpoint_create(account_id=account_owner.membership.account_id, url=receiver.url, events=["message.sent"])
    delivery = endpoint_test(account_id=new.endpoint.account_id, endpoint_id=new.endpoint.pk)
    deliveries_send(endpoint_id=new.endpoint.pk)
    staff, _ = verified_staff_client()
    pages = [
        "/admin/webhooks/endpoint/",
        f"/admin/webhooks/endpoint/{new.endpoint.pk}/change/",
        "/admin/webhooks/delivery/",
        f"/admin/webhooks/delivery/{delivery.pk}/change/",
    ]
    for page in pages:
        response = staff.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert new.secret not in html
        assert new.secret[6:] not in html
        assert "abc123" not in html  # the URL's query (the receiver's own token)
    assert delivery.webhook_id in staff.get(f"/admin/webhooks/delivery/{delivery.pk}/change/").content.decode()
    assert staff.post(f"/admin/webhooks/endpoint/{new.endpoint.pk}/change/", {}).status_code == 403
