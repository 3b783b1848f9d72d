"""How fast a customer hears back after asking for a person when nobody is online.

Usage:

    .venv/bin/python bench/handoff_replies.py [--customers 50] [--messages 5]

Starts a live stack (tests/stack.py: one Daphne with its answer helper, a throwaway database of
DATABASE_URL, the in-memory channel layer unless REDIS_URL is set) with no agent console open.
Each customer connects, asks for a person ("I want to talk to a real human"), waits for the
notice, then sends `--messages` more messages one after another ("hello? is anyone there?", a shop
question ...), timing each from the send to the first bot or system message that follows it.
All customers run at once. Prints one JSON object: how many messages got a reply, and the reply
times (ms): p50, p95, p99, max; `within_2s` is the share answered within two seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FOLLOW_UPS = ["hello? is anyone there?", "how long does standard delivery take?", "can I pay by invoice?",
              "where is my parcel?", "ok thanks, still waiting"]


async def customer(url: str, messages: int, timeout: float) -> tuple[list[float], int]:
    from websockets.asyncio.client import connect

    times: list[float] = []
    missing = 0
    async with connect(url, max_size=2**20) as ws:
        await receive_until(ws, lambda f: f["type"] == "conversation", timeout)
        await ws.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex,
                                  "text": "I want to talk to a real human"}))
        await receive_until(ws, lambda f: f["type"] == "message" and f.get("sender") == "system", timeout)
        for n in range(messages):
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex,
                                      "text": FOLLOW_UPS[n % len(FOLLOW_UPS)]}))
            reply = await receive_until(
                ws, lambda f: f["type"] == "message" and f.get("sender") in ("bot", "system"), timeout)
            if reply is None:
                missing += 1
            else:
                times.append((time.perf_counter() - started) * 1000)
    return times, missing


async def receive_until(ws, match, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            return None
        if match(frame):
            return frame
    return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(url: str, customers: int, messages: int, timeout: float) -> dict:
    results = await asyncio.gather(*(customer(url, messages, timeout) for _ in range(customers)))
    times = [t for found, _ in results for t in found]
    missing = sum(m for _, m in results)
    return {
        "customers": customers,
        "messages_after_handoff": customers * messages,
        "replied": len(times),
        "no_reply_within_timeout": missing,
        "reply_ms": {
            "p50": round(statistics.median(times), 1),
            "p95": round(percentile(times, 0.95), 1),
            "p99": round(percentile(times, 0.99), 1),
            "max": round(max(times), 1),
        } if times else None,
        "within_2s": round(sum(t <= 2000 for t in times) / (customers * messages), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one reply")
    args = parser.parse_args()
    from tests.stack import Stack

    with Stack(1, redis_url=os.environ.get("REDIS_URL") or None) as stack:
        report = asyncio.run(run(stack.ws_url(0), args.customers, args.messages, args.timeout))
    report["command"] = " ".join(["bench/handoff_replies.py", *sys.argv[1:]])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
