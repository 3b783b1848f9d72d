"""A live chat server and host pages for the browser tests (and bench/screenshots.py).

pytest-django's test database lives inside the pytest process, where a Daphne subprocess
cannot see it; so the server gets its own database: a temporary SQLite file, or, when
DATABASE_URL names PostgreSQL (CI), a throwaway database created next to it and dropped after.
"""

from __future__ import annotations

import contextlib
import html
import http.server
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.conftest import services_required
from tests.stack import Database, free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
STAFF_USER, STAFF_PASSWORD = "agent", "agent-password-123"

# Run once in the server's database after migrate: the sites and the agent the tests use.
SETUP = f"""
from django.contrib.auth.models import User
from chat.models import Site
Site.objects.update_or_create(public_key="demo", defaults=dict(
    name="Demo shop", allowed_origins="http://localhost:*\\nhttp://127.0.0.1:*\\nhttp://[::1]:*",
    greeting="Hi! I'm the demo shop's assistant. Ask me about orders, shipping, returns or payments."))
Site.objects.update_or_create(public_key="restricted", defaults=dict(
    name="Restricted shop", allowed_origins="https://shop.example.com"))
if not User.objects.filter(username={STAFF_USER!r}).exists():
    User.objects.create_user({STAFF_USER!r}, password={STAFF_PASSWORD!r}, is_staff=True, first_name="Alex")
"""


class ChatServer:
    """Daphne in a subprocess on a fixed port, with its own database; stop() and start() keep both."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = Database(os.environ.get("DATABASE_URL"), workdir)
        self.process: subprocess.Popen | None = None
        self.log = workdir / "daphne.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database.url,
            "ARTIFACTS_DIR": str(workdir / "artifacts"),
            # Plain http on localhost: no secure-only cookies, static files straight from static/.
            "DEBUG": "true",
            "SECURE_HTTPS": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            check=check, timeout=120,
        )

    def prepare(self) -> None:
        self.database.create()
        self.manage("migrate", "--noinput", "-v", "0")
        # The demo bot's intents and answers (canned answers, "did you mean" labels). Without them
        # (a checkout where the importers are missing) SETUP still makes the sites the tests need.
        self.manage("load_demo", check=False)
        self.shell(SETUP)

    def shell(self, code: str) -> str:
        return self.manage("shell", "-v", "0", "-c", code).stdout.strip()

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            time.sleep(0.1)
        raise RuntimeError(f"daphne did not answer /healthz within 30 s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Kill the server hard (SIGKILL), as a crash would; sockets drop without a close frame."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def count_messages(self, text: str) -> int:
        return int(self.shell(f"from chat.models import Message; print(Message.objects.filter(text={text!r}).count())"))


@contextlib.contextmanager
def chat_server(port: int | None = None) -> Iterator[ChatServer]:
    with tempfile.TemporaryDirectory(prefix="chat-browser-") as tmp:
        server = ChatServer(Path(tmp), port)
        server.prepare()
        try:
            server.start()
            yield server
        finally:
            server.stop()
            server.database.drop()


_shared: ChatServer | None = None


def shared_chat_server(config) -> ChatServer:  # type: ignore[no-untyped-def]
    """One server for the whole pytest session (migrating a database is the slow part), stopped at its end."""
    global _shared
    if _shared is None:
        context = chat_server()
        _shared = context.__enter__()
        config.add_cleanup(lambda: context.__exit__(None, None, None))
    if not _shared.running:  # a test that stopped it (restart scenarios) and failed midway
        _shared.start()
    return _shared


HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo shop</title>
<style>
  /* Hostile-ish host CSS: the widget must look the same regardless. */
  * {{ box-sizing: content-box; }}
  button {{ background: hotpink !important; font-family: "Comic Sans MS", cursive; border-radius: 0 !important; }}
  iframe {{ border: 8px dashed red; }}
  body {{ margin: 0; font: 16px/1.6 Georgia, serif; color: #1f2937; background: #fafaf9; }}
  header {{ padding: 18px 40px; background: #111827; color: #fff; display: flex; justify-content: space-between; }}
  header b {{ font: 700 20px/1.2 system-ui, sans-serif; letter-spacing: .02em; }}
  nav a {{ color: #d1d5db; margin-left: 24px; text-decoration: none; font: 15px system-ui, sans-serif; }}
  main {{ max-width: 980px; margin: 0 auto; padding: 48px 40px; }}
  h1 {{ font: 700 40px/1.15 system-ui, sans-serif; margin: 0 0 12px; }}
  .grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 24px; margin-top: 36px; }}
  .card {{ background: #fff; border: 1px solid #e7e5e4; border-radius: 14px; padding: 18px; }}
  .swatch {{ height: 120px; border-radius: 10px; background: linear-gradient(135deg, #fde68a, #fca5a5); }}
  .card:nth-child(2) .swatch {{ background: linear-gradient(135deg, #a7f3d0, #93c5fd); }}
  .card:nth-child(3) .swatch {{ background: linear-gradient(135deg, #ddd6fe, #fbcfe8); }}
</style></head>
<body>
<header><b>Demo shop</b><nav><a href="#">Shop</a><a href="#">Orders</a><a href="#">Help</a></nav></header>
<main>
  <h1>Spring collection</h1>
  <p>Hand-made ceramics, shipped in 3–5 business days. Questions? The assistant in the corner knows about
     orders, shipping, returns and payments.</p>
  <div class="grid">
    <div class="card"><div class="swatch"></div><h3>Stoneware mug</h3><p>€24</p></div>
    <div class="card"><div class="swatch"></div><h3>Serving bowl</h3><p>€58</p></div>
    <div class="card"><div class="swatch"></div><h3>Vase, tall</h3><p>€72</p></div>
  </div>
</main>
<script src="{server}/widget.js" data-site="{site}"{user} async></script>
</body></html>
"""


class HostPages:
    """A second origin serving a shop page with the one-line snippet (`/?site=KEY`)."""

    def __init__(self, server_url: str, host: str = "localhost") -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                query = parse_qs(urlsplit(self.path).query)
                site = query.get("site", ["demo"])[0]
                # A signed-in customer: ?user_id=…&user_hash=… become data-user-id, data-user-hash, …
                user = "".join(f' data-user-{key[5:]}="{html.escape(values[0])}"' for key, values in query.items()
                               if key.startswith("user_"))
                body = HOST_PAGE.format(server=outer.server_url, site=site, user=user).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server_url = server_url
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def page(self, site: str = "demo", **user: str) -> str:
        """The shop page; `user_id=`, `user_hash=`, `user_name=`, `user_email=` sign a customer in."""
        return f"{self.url}/?{urlencode({'site': site, **user})}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def launch_browser(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


# Fixtures shared by the browser test modules (imported there by name).


@pytest.fixture(scope="module")
def server(request):
    if not Path("/usr/bin/chromium").exists() and not services_required():
        pytest.skip("Chromium is not installed (make browser-deps)")
    return shared_chat_server(request.config)


@pytest.fixture(scope="module")
def host(server):
    pages = HostPages(server.url)
    yield pages
    pages.close()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()
