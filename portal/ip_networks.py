import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR ranges; raises ValueError on a bad entry (settings call this at start-up)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
