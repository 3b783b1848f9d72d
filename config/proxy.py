"""The client's address behind reverse proxies: believe only the hops we were told to trust.

A proxy appends the address it received the request from to X-Forwarded-For, so only the
last entries, written by our own proxies, can be believed; anything to their left was
sent by the client and may be forged (issue 14, item 3: with Daphne's --proxy-headers, which
takes the leftmost entry, anyone could lock out any address by naming it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: str, hops: int, networks: Sequence[Network] = ()) -> str:
    """The client's address, given the peer's and the X-Forwarded-For header.

    Steps:
    1. Read the chain right to left: the peer, then the header's entries from its end.
    2. Skip an address while it is a trusted proxy: one of the first `hops` of the chain, or
       inside one of the trusted `networks`.
    3. The first address that is not a trusted proxy is the client's. A header shorter than
       the trusted hops (a misconfiguration) leaves its leftmost entry.
    """
    if hops <= 0 and not networks:
        return peer
    chain = [peer, *reversed([entry.strip() for entry in forwarded_for.split(",") if entry.strip()])]
    for position, entry in enumerate(chain):
        address = _address(entry)
        trusted = position < hops or (address is not None and any(address in net for net in networks))
        if not trusted:
            return str(address) if address is not None else entry
    return chain[-1]


class ProxiedClient:
    """ASGI middleware: scope["client"] is the client's address (see `client_address`), for
    both the websocket limits and Django's REMOTE_ADDR."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        hops, networks = settings.TRUSTED_PROXY_HOPS, settings.TRUSTED_PROXY_NETWORKS
        if scope["type"] in ("http", "websocket") and (hops or networks) and scope.get("client"):
            forwarded = ",".join(
                value.decode("latin-1") for name, value in scope.get("headers", []) if name.lower() == b"x-forwarded-for"
            )
            peer, port = scope["client"][0], scope["client"][1]
            client = client_address(peer, forwarded, hops, networks)
            if client != peer:
                scope = {**scope, "client": [client, port]}
        return await self.app(scope, receive, send)
