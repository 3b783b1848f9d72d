"""A small per-address request budget for forms that cost something to answer (password reset)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase


View = Callable[..., HttpResponseBase]


def per_address_per_hour(limit: int) -> Callable[[View], View]:
    """Answer 429 to an address's POSTs past `limit` an hour (counted in Django's cache)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def throttled(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "POST":
                key = f"throttle:{request.path}:{request.META.get('REMOTE_ADDR', '')}"
                cache.add(key, 0, timeout=3600)
                if cache.incr(key) > limit:
                    return HttpResponse("Too many requests from this address; try again in an hour.",
                                        status=429, content_type="text/plain")
            return view(request, *args, **kwargs)

        return throttled

    return decorate
