"""Which address a request comes from: the socket's, unless it is a proxy the operator trusts.

`X-Forwarded-For` is written by whoever sends the request, so it is believed only when the
socket peer is a trusted proxy (`trafficcam serve --trusted-proxy`). Then the header is read
from the right: each proxy appends the address it saw, so the rightmost hop that is not a
trusted proxy is the client; anything to its left may be made up by that client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks (``10.0.0.5``, ``10.0.0.0/8``, ``::1``).

    Raises:
        ValueError: one of them is neither, saying which.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--trusted-proxy {value!r} is not an IP address or CIDR block like 10.0.0.0/8") from None
    return tuple(networks)


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies whose `X-Forwarded-For` is believed (none by default)."""

    networks: tuple[Network, ...] = ()

    def trusts(self, address: str) -> bool:
        """Whether `address` is one of the trusted proxies."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client(self, peer: str, forwarded_for: list[str]) -> str:
        """The client address of a request from socket peer `peer` with these header values."""
        if not self.networks or not self.trusts(peer):
            return peer
        hops = [h.strip() for value in forwarded_for for h in value.split(",")]
        for hop in reversed(hops):
            if not _is_address(hop):
                return peer  # a garbled header: fall back on what we know, the proxy
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
