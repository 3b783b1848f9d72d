"""The websocket handshake's Host must be one of ALLOWED_HOSTS, as Django checks it for pages
(issue 14, item 15): Channels' routing does not, so a socket answered any Host."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host


def host_allowed(host: str) -> bool:
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class AllowedHostsOnly:
    """ASGI middleware: a websocket handshake with a Host outside ALLOWED_HOSTS is rejected (403)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"host"), "")
            if not host_allowed(host):
                message = await receive()
                if message["type"] == "websocket.connect":
                    await send({"type": "websocket.close", "code": 4403})
                return None
        return await self.app(scope, receive, send)
