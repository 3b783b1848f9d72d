"""A cap on the data waiting to be sent to one websocket client (issue 14, item 5).

Twisted buffers whatever the application sends until the client reads it, without limit: a
client that sends frames and never reads what they earn grows the web process by every
reply. Past the cap the connection is dropped, buffer and all; the application then gets
its disconnect as for any other lost client.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def unsent_bytes(transport: Any) -> int:
    """Bytes a Twisted TCP transport holds for its peer (its write buffers; 0 for other transports)."""
    buffered = len(getattr(transport, "dataBuffer", b"")) - getattr(transport, "offset", 0)
    return buffered + getattr(transport, "_tempDataLen", 0)


def install(cap: int) -> None:
    """Make Daphne's websocket protocol drop a client that has more than `cap` bytes unsent."""
    from daphne.ws_protocol import WebSocketProtocol

    send = WebSocketProtocol.handle_reply

    def handle_reply(self: Any, message: dict[str, Any]) -> None:
        transport = getattr(self, "transport", None)
        if message.get("type") == "websocket.send" and transport is not None:
            unsent = unsent_bytes(transport)
            if unsent > cap:
                if not getattr(self, "dropped_for_backpressure", False):
                    self.dropped_for_backpressure = True
                    log.warning("websocket client %s does not read: %d bytes unsent, over the cap of %d; "
                                "connection dropped", getattr(self, "client_addr", "?"), unsent, cap)
                    transport.abortConnection()
                return
        send(self, message)

    WebSocketProtocol.handle_reply = handle_reply
