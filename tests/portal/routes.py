"""The pages to visit, read from the URL configuration (as tests/apikeys/test_scopes.py reads the
API's routes): a test that walks them covers a new page without anyone adding it here."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern
from django.utils import timezone

from accounts.models import User
from contacts import services as contacts_services
from inbound.services import inbound_number_assign, inbound_receive
from messaging.models import Message, PriceRule
from messaging.services.ledger import low_balance_threshold_set
from security.models import KnownDevice
from tests.api_support import make_credential, make_subuser, make_token
from webhooks.models import Delivery, Endpoint

# Not pages: answered before the middleware (portal.middleware.EarlyEndpointsMiddleware), and the
# API's catch-alls.
NOT_PAGES = {"healthz", "readyz", "kannel-dlr", "kannel-mo", "api-not-found", "smsgate-not-found"}


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, for reverse(): "contacts:edit", "admin:index"
    route: str  # as written in the URL configuration
    params: tuple[str, ...]


def _params(pattern: URLPattern) -> tuple[str, ...]:
    if isinstance(pattern.pattern, RoutePattern):
        return tuple(pattern.pattern.converters)
    return tuple(pattern.pattern.regex.groupindex)


def _walk(patterns, prefix: str = "", namespaces: tuple[str, ...] = ()):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif pattern.name:
            yield Route(":".join((*namespaces, pattern.name)), prefix + str(pattern.pattern), _params(pattern))


def page_routes() -> list[Route]:
    """Every named route of the portal, the sign-in pages included: not the API's (any path under
    API_PATH_PREFIXES), not the machine endpoints, not the admin's (see admin_routes)."""
    api = tuple(prefix.strip("/") for prefix in settings.API_PATH_PREFIXES)
    routes = []
    for route in _walk(get_resolver().url_patterns):
        first = route.route.split("/")[0]
        if first in api or first == "admin" or route.name in NOT_PAGES:
            continue
        routes.append(route)
    return routes


def admin_routes() -> list[Route]:
    return [route for route in _walk(get_resolver().url_patterns) if route.route.startswith("admin/")]


def admin_url(route: Route) -> str:
    """The admin page with every object id 1 (the admin says so when there is no such object)."""
    return reverse(route.name, kwargs={param: "accounts" if param == "app_label" else 1 for param in route.params})


class Samples:
    """An account's objects for every path parameter of the portal: a sub-user, a contact in a
    group, a message, an API token and credential, a known browser. Each page opened with them
    shows that object, not a 404."""

    def __init__(self, owner: User) -> None:
        account = owner.membership.account
        self.subuser = make_subuser(owner)
        group = contacts_services.group_create(account_id=account.pk, name="Newsletter")
        contact = contacts_services.contact_create(
            account_id=account.pk, phone="+447400100200", name="Ada", group_ids=[group.pk]
        )
        message = Message.objects.create(
            account=account, submitted_by=owner, sender="Shop", text="Hi", recipient="+447400100200", status="delivered"
        )
        self.token = make_token(owner)[0]
        self.credential = make_credential(owner)[0]
        device = KnownDevice.objects.create(user=owner, device_hash="0" * 64, user_agent="Test browser")
        inbound_number_assign(number="+447400900500", account_id=account.pk)
        received = inbound_receive(sender="+447400100200", recipient="+447400900500", text="Hello")
        endpoint = Endpoint.objects.create(account=account, url="https://example.com/hook", events=["message.sent"])
        delivery = Delivery.objects.create(
            endpoint=endpoint, webhook_id="msg_sample", event_type="message.sent", give_up_at=timezone.now()
        )
        # Billing: a country's price on the price list, and a balance below the owner's warning
        # threshold, so the pages show the price table and the low-balance notice.
        PriceRule.objects.update_or_create(country="GB", defaults={"price_per_segment": Decimal("0.5")})
        low_balance_threshold_set(account_id=account.pk, threshold=account.balance + 1, actor=owner)
        self.by_param = {
            "member_id": self.subuser.membership.pk,
            "contact_id": contact.pk,
            "group_id": group.pk,
            "message_id": message.pk,
            "credential_id": self.credential.pk,
            "endpoint_id": endpoint.pk,
            "delivery_id": delivery.pk,
            "uidb64": "MQ",
            "token": "set-password",
        }
        self.pk_by_name = {"token": self.token.pk, "credential": self.credential.pk, "device": device.pk}
        self.inbound_message_id = received.pk  # the inbox's `message_id` is an inbound message's

    def url(self, route: Route) -> str:
        kwargs = {}
        for param in route.params:
            if param == "pk":  # apikeys:token-…, apikeys:credential-…, security:device-forget
                kind = route.name.split(":")[-1].split("-")[0]
                kwargs[param] = self.pk_by_name[kind]
            elif param == "message_id" and route.name.startswith("inbound:"):
                kwargs[param] = self.inbound_message_id
            else:
                kwargs[param] = self.by_param[param]
        return reverse(route.name, kwargs=kwargs)
