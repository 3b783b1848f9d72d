"""Authentication backends."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend


class LoginThrottle(AxesStandaloneBackend):
    """django-axes' lockout check, for sign-ins that come with a request (the login forms, the API).

    axes refuses an `authenticate()` without a request; nothing in the product makes one, but
    Django's test client `login()` does, and without a request there is no address to count.
    """

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
