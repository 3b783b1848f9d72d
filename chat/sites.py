"""Sites: finding one by its public key, and where it may be embedded (origins, the frame's CSP)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

from chat.models import Site

# What CSP accepts as a host-source: scheme://host[:port], `*.` subdomains, `:*` ports.
CSP_SOURCE = re.compile(r"^(https?://)?(\*\.)?[A-Za-z0-9.\-\[\]]+(:(\d+|\*))?$")
# Site keys and resume tokens are URL-safe base64 (secrets.token_urlsafe) or slugs. Anything
# else is refused before a query: PostgreSQL rejects a NUL in a parameter with an error.
KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def well_formed_key(value: str | None) -> bool:
    """Whether `value` has the shape of a site key or a resume token."""
    return isinstance(value, str) and KEY.fullmatch(value) is not None


def find_site(public_key: str) -> Site | None:
    if not well_formed_key(public_key):
        return None
    return Site.objects.filter(public_key=public_key, is_active=True).first()


def origin_matches(origin: str, pattern: str) -> bool:
    """Whether `origin` matches an allowed-origin pattern, where only `*` is a wildcard (a port or
    a host label; never a "/"). Brackets are literal, so `http://[::1]:*` means the IPv6 loopback
    (fnmatch read them as a character class: `http://1:8080` matched it)."""
    parts = (re.escape(part) for part in pattern.rstrip("/").lower().split("*"))
    return re.fullmatch("[^/]*".join(parts), origin.rstrip("/").lower()) is not None


def origin_allowed(site: Site, origin: str | None, host: str | None) -> bool:
    """Whether a browser page at `origin` may chat as `site`.

    No Origin header means a non-browser client, which could send any Origin anyway.
    The server's own pages (same host) are always allowed; otherwise the origin must match
    one of the site's patterns, where `*` matches any port or subdomain label.
    """
    if not origin:
        return True
    origin = origin.rstrip("/").lower()
    parts = urlsplit(origin)
    if host and parts.netloc == host.lower():
        return True
    return any(origin_matches(origin, pattern) for pattern in site.origin_list())


def frame_ancestors(site: Site) -> str:
    """The site's allowed origins as a CSP source list ('none' of them means only our own pages)."""
    sources = ["'self'"]
    for pattern in site.origin_list():
        pattern = pattern.rstrip("/")
        if pattern == "*":
            sources.append("*")
        elif CSP_SOURCE.match(pattern):
            sources.append(pattern)
        # Anything else (a glob CSP cannot express) is left out: that origin cannot frame the chat.
    return " ".join(sources)


def frame_csp(request: HttpRequest, site: Site) -> str:
    host = request.get_host()
    static = ""
    if settings.STATIC_URL.startswith(("http://", "https://", "//")):
        parts = urlsplit(settings.STATIC_URL)
        static = f" {parts.scheme + ':' if parts.scheme else ''}//{parts.netloc}"
    return (
        "default-src 'none'; "
        f"script-src 'self'{static}; style-src 'self'{static}; img-src 'self' data:; "
        f"connect-src 'self' ws://{host} wss://{host}; "
        "base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {frame_ancestors(site)}"
    )
