import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_network(entry: str) -> IPNetwork:
    """An address or CIDR range, read the way `core.ip.parse_ip` reads a client: an IPv4-mapped
    IPv6 range (`::ffff:127.0.0.1`, `::ffff:7f00:1/128`, `::ffff:10.0.0.0/104`) is the IPv4 range
    it maps, since a mapped client address is compared as IPv4 and would never fall in it.
    Raises ValueError on a bad entry."""
    network = ipaddress.ip_network(entry.strip(), strict=False)
    if network.version == 6 and network.subnet_of(_IPV4_MAPPED):
        return ipaddress.IPv4Network((int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96))
    return network


def parse_networks(entries) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR ranges; raises ValueError on a bad entry (settings call this at start-up)."""
    return tuple(parse_network(entry) for entry in entries if entry.strip())


def contains(networks, address) -> bool:
    """Whether an address lies in any of the networks (an IPv4 address is never in an IPv6 range)."""
    return address is not None and any(address.version == net.version and address in net for net in networks)
