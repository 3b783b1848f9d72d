"""The ceiling for bench/load.py: a bare Channels consumer echoing text frames, served by Daphne.

No database, no channel layer, no Django app: `python -m daphne bench.echo_asgi:application`.
HTTP requests get a plain 200 so the benchmark can wait for the server like it waits for /healthz.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

if not settings.configured:
    # Channels reads CHANNEL_LAYERS; an empty one means the consumer has no layer at all.
    settings.configure(CHANNEL_LAYERS={})

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402  (needs settings)


class EchoConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = "none"  # not configured: no layer, no receive loop on it

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


echo = EchoConsumer.as_asgi()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await echo(scope, receive, send)
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
