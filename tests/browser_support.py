"""What the browser tests (and bench/screenshots.py) add to the live stack of tests/stack.py.

`browser_stack()` configures a `Stack` for them; the fixtures (`browser_stack`, shared by the
browser test modules, `host`, `browser`) live in tests/conftest.py. Host pages serve a shop page
with the widget's one-line snippet from a second origin.
"""

from __future__ import annotations

import html
import http.server
import os
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.stack import Stack

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


def browser_stack(**env: str) -> Stack:
    """The live stack configured for the browser tests: one Daphne serving static/ as it is (DEBUG,
    no collectstatic), this machine's Redis when REDIS_URL names one (as in CI), the demo and
    restricted sites and a staff user; `env` adds settings."""
    return Stack(1, redis_url=os.environ.get("REDIS_URL") or None,
                 env={"DEBUG": "true", "LOG_LEVEL": "WARNING", **env}, setup=SETUP)


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


def sign_in(page, stack, username=STAFF_USER, password=STAFF_PASSWORD):
    """Sign a staff user in on the agent console of the stack's first web process."""
    page.goto(stack.url(0, "/agent/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
