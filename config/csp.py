"""A Content-Security-Policy on every page that does not set its own (issue 14, item 15).

The widget frame sets a stricter one per site (chat/widget.py). Pages load scripts and styles
from our own origin only; inline style attributes are allowed (the admin and the site's accent
colour use them), inline scripts are not. JSON API responses and the API's documentation
pages (whose viewers start from an inline script) are left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def page_policy(host: str) -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"font-src 'self'; connect-src 'self' ws://{host} wss://{host}; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )


class ContentSecurityPolicy:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response and not request.path.startswith("/api/"):
            response["Content-Security-Policy"] = page_policy(request.get_host())
        return response
