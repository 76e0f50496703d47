"""The portal's and the API's IP allowlists, cached per process and in Redis under a version."""

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, User
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record, security_alert
from core import localcache, ratelimit
from core.errors import ApplicationError
from core.ip import parse_ip
from core.ip_networks import contains, parse_network, parse_networks
from security.models import IPAllowlistEntry


def allowlist_cache_key(account_id: int, scope: str) -> str:
    return f"ip-allowlist:{account_id}:{scope}"


def allowlist_shared_key(account_id: int, scope: str) -> str:
    return localcache.shared_key(allowlist_cache_key(account_id, scope))


def ip_allowlist_changed(account_id: int, scope: str) -> None:
    localcache.shared_changed(allowlist_cache_key(account_id, scope))


def ip_allowlist_networks(*, account_id: int, scope: str) -> list[str]:
    """The account's list for `scope`, cached until it changes (a hot path: every page and API
    request), and for at most a second in this process."""
    return localcache.shared_remember(
        allowlist_cache_key(account_id, scope),
        lambda: list(
            IPAllowlistEntry.objects.filter(account_id=account_id, scope=scope).values_list("network", flat=True)
        ),
    )


def ip_is_allowed(*, account_id: int, scope: str, ip: str) -> bool:
    networks = ip_allowlist_networks(account_id=account_id, scope=scope)
    if not networks:
        return True
    parsed = []
    for entry in networks:
        try:
            parsed.append(parse_network(entry))  # a row saved before mapped entries were normalised too
        except ValueError:
            continue  # a bad entry (typed in the admin) allows nothing, and breaks nothing
    return contains(parsed, parse_ip(ip))


def parse_allowlist(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """One entry a line, `address-or-CIDR [note]` (a `#` starts a note too). Returns (entries, errors)."""
    entries: list[tuple[str, str]] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        value, _, note = line.replace("#", " ", 1).partition(" ")
        try:
            if "%" in value:  # an IPv6 zone (fe80::1%eth0) names a local interface, no address range
                raise ValueError
            network = parse_network(value)  # ::ffff:192.0.2.1 is 192.0.2.1, as a client address is
        except ValueError:
            errors.append(f"Line {number}: “{value[:60]}” is not an IPv4/IPv6 address or CIDR range.")
            continue
        if network.prefixlen == 0:
            errors.append(f"Line {number}: {network} would allow every address; leave the list empty instead.")
            continue
        normalised = str(network) if network.num_addresses > 1 else str(network.network_address)
        if normalised not in seen:
            seen.add(normalised)
            entries.append((normalised, note.strip()[:200]))
    return entries, errors


@transaction.atomic
def ip_allowlist_replace(
    *, account: Account, scope: str, entries: list[tuple[str, str]], actor: User, context: AuditContext = NO_CONTEXT,
    confirm_self_lockout: bool = False,
) -> None:  # fmt: skip
    """Replace one list. Saving a portal list that excludes the caller's own address needs
    `confirm_self_lockout`, since the next page would refuse them."""
    if scope == IPAllowlistEntry.Scope.PORTAL and entries and context.ip:
        ip = parse_ip(context.ip)
        inside = contains(parse_networks(network for network, _ in entries), ip)
        if not inside and not confirm_self_lockout:
            raise ApplicationError(
                f"Your current address {ip} is not in this list: saving it would lock you out of the portal. "
                "Add your address, or confirm that you want to save it anyway.",
                code="self_lockout",
            )
    Account.objects.select_for_update(no_key=True).only("id").get(pk=account.pk)
    before = sorted(IPAllowlistEntry.objects.filter(account=account, scope=scope).values_list("network", flat=True))
    IPAllowlistEntry.objects.filter(account=account, scope=scope).delete()
    IPAllowlistEntry.objects.bulk_create(
        [IPAllowlistEntry(account=account, scope=scope, network=network, note=note) for network, note in entries]
    )
    # A new version now (this transaction's own next reads see the new rows), and again after
    # the commit: readers that read the old rows in between stored them under the version of now.
    ip_allowlist_changed(account.pk, scope)
    transaction.on_commit(lambda: ip_allowlist_changed(account.pk, scope))
    audit_record(
        action="security.ip_allowlist_changed",
        account=account,
        actor=actor,
        context=context,
        data={"scope": scope, "before": before, "after": sorted(network for network, _ in entries)},
    )


def ip_refused(*, context: AuditContext = NO_CONTEXT, user: User, account: Account, scope: str) -> None:
    """Record a refused address (once a minute per user and address) and alert the owner."""
    ip = context.ip
    if ratelimit.once(f"ip-refused-audit:{user.pk}:{ip}:{scope}", seconds=60):
        audit_record(action="security.ip_refused", account=account, actor=user, context=context, data={"scope": scope})
    security_alert(
        account=account,
        kind=f"ip_refused:{scope}",
        subject="Access refused from an address outside your allowlist",
        body=(
            f"A request for {user.email} came from {ip}, which is not in the {scope} IP allowlist of "
            f"{account.name}, and was refused at {timezone.now():%Y-%m-%d %H:%M:%S} UTC.\n\n"
            "If this was not you, change your password. You get at most one such e-mail an hour."
        ),
    )
