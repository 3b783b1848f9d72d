"""Pages of the embeddable widget and the agent console.

`/widget.js` is the one-line snippet's loader. It adds a launcher to the host page and an
iframe on `/widget/frame/`, so the chat itself runs on this server's origin: the host page's
CSS and scripts cannot reach into it, and its localStorage (resume token, outbox) is ours.
The frame refuses embedding origins the site does not list, twice: in the view (a readable
refusal for an honest loader) and with CSP `frame-ancestors` (enforced by the browser against
a page that lies about its origin).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import get_supported_language_variant, override
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.i18n import JavaScriptCatalog
from django.views.decorators.http import require_GET

from knowledge.markup import answer_text
from chat.models import Site
from knowledge.models import Intent
from chat import sites
from chat.sites import frame_csp

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")
DEFAULT_COLOR = "#2563eb"


@lru_cache(maxsize=1)
def _loader_source() -> str:
    path = finders.find("chat/widget.js")
    if path is None:  # a broken deploy, loud at the first request rather than a blank widget
        raise FileNotFoundError("static/chat/widget.js is missing")
    return Path(path).read_text(encoding="utf-8")


@require_GET
def widget_js(request: HttpRequest) -> HttpResponse:
    """The snippet's loader; served by the chat server so it always speaks the socket's version."""
    source = _loader_source() if not settings.DEBUG else _loader_source.__wrapped__()
    response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    # Short: a deploy reaches every host page within minutes.
    response["Cache-Control"] = "public, max-age=300"
    return response


def site_context(site: Site) -> dict[str, str]:
    """The site's look, validated (the admin form does not constrain the colour)."""
    return {
        "key": site.public_key,
        "name": site.name,
        "greeting": site.greeting,
        "color": site.color if COLOR.match(site.color or "") else DEFAULT_COLOR,
        "position": site.position if site.position in ("left", "right") else "right",
        "language": site.language or "en",
    }


@cache_control(public=True, max_age=3600)
def widget_catalog(request: HttpRequest, language: str) -> HttpResponseBase:
    """Django's JavaScript catalog of the chat's strings in one of the shipped languages (else English)."""
    code = get_supported_language_variant(language) if language in dict(settings.LANGUAGES) else "en"
    with override(code):
        return JavaScriptCatalog.as_view(packages=["chat"])(request)


def _refused(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    response = render(request, "chat/frame_refused.html", {"detail": detail}, status=status)
    # The refusal may be framed anywhere: it only says why, so the loader can report it.
    response["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; frame-ancestors *"
    )
    return response


@xframe_options_exempt
@require_GET
def widget_frame(request: HttpRequest) -> HttpResponse:
    """The chat panel inside the host page's iframe, only for origins the site allows."""
    key = request.GET.get("site", "")
    if not sites.well_formed_key(key):
        return _refused(request, 400, "This chat widget's site key is malformed.")
    site = sites.find_site(key)
    if site is None:
        return _refused(request, 404, "This chat widget has an unknown or inactive site key.")
    origin = request.GET.get("origin", "").rstrip("/")
    if origin and not ORIGIN.match(origin):
        return _refused(request, 400, "The page origin sent by the widget is malformed.")
    if not sites.origin_allowed(site, origin or None, request.get_host()):
        return _refused(
            request, 403,
            f"This chat is not allowed on {origin}: add it to the allowed origins of site "
            f"'{site.public_key}'.",
        )
    response = render(
        request, "chat/frame.html",
        {"site": site_context(site), "embedding_origin": origin, "page": request.GET.get("page", "")[:500]}
    )
    response["Content-Security-Policy"] = frame_csp(request, site)
    return response


@staff_member_required(login_url=settings.LOGIN_URL)
@require_GET
def agent_console(request: HttpRequest) -> HttpResponse:
    """The agent console: queue, live conversations, canned answers (the socket does the rest)."""
    canned = [
        {"name": intent.name, "title": intent.description or intent.name, "text": answer_text(intent.answer)}
        for intent in Intent.objects.exclude(answer="").only("name", "description", "answer")
    ]
    return render(request, "chat/agent.html", {"canned": canned})
