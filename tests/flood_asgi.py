"""A websocket app that sends 64 MiB as fast as it can, for the backpressure test (served by config.web)."""

import asyncio

TOTAL = 64 * 2**20


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        return
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    gone = asyncio.ensure_future(receive())
    frame, sent = "x" * 65536, 0
    while sent < TOTAL and not gone.done():
        await send({"type": "websocket.send", "text": frame})
        sent += len(frame)
        await asyncio.sleep(0)
    print(f"flood: {'disconnected' if gone.done() else 'sent everything'} after {sent} bytes", flush=True)
