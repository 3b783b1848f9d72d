"""Issue 14's attacks against a live stack, each reported as what happened (JSON).

    .venv/bin/python bench/attacks.py [--bursts 30] [--frames 2000]

Starts tests/stack.py's stack (Daphne through config.web over a throwaway database; Redis when
REDIS_URL is set, as in production) and then, from this machine's one address:
  1. replay: a card number with its CVV, and a dashed IBAN, sent in chat; the history replayed on
     resume must hold neither.
  2. bad_handshakes: 210 handshakes with token=%00 (PostgreSQL refuses a NUL), then a normal chat.
  3. reconnect_bursts: 900 messages in bursts of 30, each burst on a new socket (half resume the
     same conversation, half start new ones): how many were acknowledged against the limits.
  4. never_reads: one client sends 16 KB frames that each earn a 16 KB error frame and never
     reads; the web process's resident memory before and after, and whether it was dropped.
  5. dev_secret: `manage.py check` with DEBUG=false and no SECRET_KEY.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stack import Stack  # noqa: E402  (after sys.path)

CARD = "my card is 4111 1111 1111 1111 exp 12/27 cvv 123"
IBAN = "refund to NL91-ABNA-0417-1643-00 please"


async def hello(url: str) -> tuple[Any, dict[str, Any]]:
    ws = await websockets.connect(url, max_size=None)
    return ws, json.loads(await ws.recv())


async def until(ws: Any, kinds: set[str]) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame["type"] in kinds or (frame["type"] == "error" and "error" in kinds):
            return frame


async def replay(base: str) -> dict[str, Any]:
    ws, first = await hello(base)
    for text in (CARD, IBAN):
        await ws.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": text}))
        await until(ws, {"ack", "error"})
    await ws.close()
    ws, _ = await hello(f"{base}&token={first['token']}")
    texts = []
    try:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 2))
            if frame.get("sender") == "customer":
                texts.append(frame["text"])
    except TimeoutError:
        pass
    await ws.close()
    leaked = [secret for secret in ("4111", "NL91", "ABNA", "cvv 123") if any(secret in t for t in texts)]
    return {"replayed_customer_texts": texts, "leaked": leaked}


async def bad_handshakes(base: str, n: int = 210) -> dict[str, Any]:
    codes: dict[str, int] = {}
    for _ in range(n):
        ws, frame = await hello(f"{base}&token=%00")
        codes[frame.get("code", frame["type"])] = codes.get(frame.get("code", frame["type"]), 0) + 1
        await ws.close()
    ws, frame = await hello(base)
    await ws.close()
    return {"handshakes": n, "answers": codes, "normal_chat_after": frame["type"]}


async def reconnect_bursts(base: str, total: int = 900, burst: int = 30) -> dict[str, Any]:
    counts: dict[str, int] = {}
    token = None
    started = time.monotonic()
    for i in range(total // burst):
        url = f"{base}&token={token}" if token and i % 2 else base
        ws, frame = await hello(url)
        if frame["type"] != "conversation":
            counts[f"refused:{frame.get('code')}"] = counts.get(f"refused:{frame.get('code')}", 0) + 1
            await ws.close()
            continue
        token = token or frame["token"]
        for _ in range(burst):
            await ws.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": "hello"}))
        for _ in range(burst):
            answer = await until(ws, {"ack", "error"})
            kind = answer["type"] if answer["type"] == "ack" else answer["code"]
            counts[kind] = counts.get(kind, 0) + 1
        await ws.close()
    return {"messages": total, "bursts": total // burst, "results": counts,
            "seconds": round(time.monotonic() - started, 1)}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def masked_text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    header = b"\x81" + (bytes([0x80 | len(payload)]) if len(payload) < 126 else
                        (b"\xfe" + struct.pack("!H", len(payload)) if len(payload) < 65536 else
                         b"\xff" + struct.pack("!Q", len(payload))))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def never_reads(host: str, port: int, pid: int, frames: int) -> dict[str, Any]:
    before = rss_mib(pid)
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws/chat/?site=demo HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    # A frame type of 16,000 characters: the error frame quotes it back, 16 KB out for 16 KB in.
    frame = masked_text_frame(json.dumps({"type": "x" * 16_000}).encode())
    sent, dropped = 0, False
    try:
        for _ in range(frames):
            writer.write(frame)
            await asyncio.wait_for(writer.drain(), 10)
            sent += 1
    except (ConnectionError, TimeoutError):
        dropped = True
    peak = rss_mib(pid)
    writer.close()
    return {"frames_sent": sent, "bytes_sent_mib": round(sent * len(frame) / 2**20, 1), "dropped_by_server": dropped,
            "web_rss_mib_before": before, "web_rss_mib_after": peak, "growth_mib": round(peak - before, 1)}


def dev_secret() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env={**env, "DEBUG": "false"},
                            capture_output=True, text=True, timeout=120)
    return {"check_exit_code": result.returncode, "says": "chat.E003" in result.stderr + result.stdout}


async def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    base = stack.ws_url(0, "/ws/chat/?site=demo")
    return {
        "replay": await replay(base),
        "bad_handshakes": await bad_handshakes(base),
        "reconnect_bursts": await reconnect_bursts(base, burst=args.bursts),
        "never_reads": await never_reads("127.0.0.1", stack.port(0), stack.daphne(0).pid or 0, args.frames),
        "dev_secret": dev_secret(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=30)
    parser.add_argument("--frames", type=int, default=2000)
    args = parser.parse_args()
    with Stack(redis_url=os.environ.get("REDIS_URL") or None) as stack:
        report = asyncio.run(run(stack, args))
        report["settings"] = {"CHAT_RATE_PER_MINUTE": 30, "CHAT_RATE_PER_IP_PER_MINUTE": 600,
                              "CHAT_MAX_CONNECTIONS_PER_IP": 200, "CHAT_MAX_UNSENT_BYTES": 2**20}
        report["redis"] = bool(stack.redis_url)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
