import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR ranges; raises ValueError on a bad entry (settings call this at start-up)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def contains(networks, address) -> bool:
    """Whether an address lies in any of the networks (an IPv4 address is never in an IPv6 range)."""
    return address is not None and any(address.version == net.version and address in net for net in networks)
