from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chat import health
from chat.widget import site_context
from chat import sites


@require_GET
def chat_page(request: HttpRequest) -> HttpResponse:
    """The full-page chat with the demo bot (same client code as the widget)."""
    key = request.GET.get("site", "demo")
    if not sites.well_formed_key(key):
        return HttpResponseBadRequest("The site key in this address is malformed.", content_type="text/plain")
    site = sites.find_site(key)
    return render(request, "chat/page.html", {"site": site_context(site) if site else None})


@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers (also at /healthz)."""
    return JsonResponse({"ok": True})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when this process can serve chats, else 503; the body says which check failed."""
    ready, checks = health.readiness()
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)
