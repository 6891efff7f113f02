"""The address a request comes from, as far as it can be trusted."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


@lru_cache(maxsize=32)
def trusted_networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of ``SYNAPSE_TRUSTED_PROXIES``; ValueError for an entry that is none."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _is_trusted(peer: str, trusted: Sequence[str]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted_networks(tuple(trusted)))


def client_address(connection: HTTPConnection | None, trusted_proxies: Sequence[str]) -> str:
    """The socket peer; or, when the peer is one of ``trusted_proxies``, the first hop of
    ``X-Forwarded-For`` (the one the client's own proxy chain started with). Anyone can
    write that header, so it counts only when a proxy we run set it."""
    if connection is None or connection.client is None:
        return UNKNOWN
    peer = connection.client.host
    if not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    forwarded = connection.headers.get("x-forwarded-for", "")
    first = forwarded.split(",")[0].strip()
    return first or peer
