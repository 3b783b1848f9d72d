"""All outbound HTTP of the product goes through here: webhook deliveries (api/webhooks.py) and
lookups in the shop's systems (chat/lookups.py), both signed the same way.

One place sets the timeout, the User-Agent, the signature and what a failure looks like, and
tests find every request in one module. Plain `urllib`: a POST with a timeout needs nothing more.
It lives in chat, the lowest layer that sends requests, so the API above can use it too.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

USER_AGENT = "support-bot/1"
SIGNATURE_HEADER = "X-Signature"


def sign(secret: str, timestamp: int, body: str | bytes) -> str:
    """The X-Signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`."""
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Result:
    status: int | None  # None: no HTTP answer (refused, timed out, bad address)
    ms: int
    error: str = ""
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is the receiver's answer, not an instruction to send the signed body elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, max_body: int = 65536) -> Result:
    """POST `body`; never raises for the receiver's failures, it reports them."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"User-Agent": USER_AGENT, **headers})
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with _opener.open(request, timeout=timeout) as response:
            return Result(response.status, elapsed(), body=response.read(max_body))
    except urllib.error.HTTPError as exc:
        return Result(exc.code, elapsed(), f"HTTP {exc.code} {exc.reason}"[:500])
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Result(None, elapsed(), f"{type(reason).__name__}: {reason}"[:500])
