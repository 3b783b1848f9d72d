"""A webhook receiver on this machine: a real HTTP server that records deliveries and verifies
them with the recipe of docs/webhooks.md (read from the doc itself, so the doc cannot drift)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"


def documented_verify() -> Any:
    """The `verify` function of docs/webhooks.md's Python block."""
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/webhooks.md has no Python recipe"
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    return namespace["verify"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """Records every POST and answers 200, except: the first delivery (by its body's id) gets
    `statuses` (e.g. 500, 500) on its first attempts; with `every=True` all requests get them in turn."""

    def __init__(self, statuses: tuple[int, ...] = (), every: bool = False) -> None:
        self.statuses = list(statuses)
        self.every = every
        self.first_id: str | None = None
        self.received: list[Received] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.changed:
                    try:
                        delivery_id = json.loads(body).get("id")
                    except ValueError:
                        delivery_id = None
                    receiver.first_id = receiver.first_id or delivery_id
                    scripted = receiver.every or delivery_id == receiver.first_id
                    status = receiver.statuses.pop(0) if receiver.statuses and scripted else 200
                    receiver.received.append(Received(self.path, dict(self.headers), body, status))
                    receiver.changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, predicate: Any, timeout: float = 30) -> list[Received]:
        """Block until predicate(received) holds; fail with what arrived after `timeout` seconds."""
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self.received), timeout=timeout):
                raise AssertionError(f"deliveries so far: {[r.json.get('event') for r in self.received]}")
            return list(self.received)

    def events(self) -> list[str]:
        return [r.json["event"] for r in self.received]
