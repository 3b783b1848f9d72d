"""API keys: creation (shown once, stored hashed), bearer authentication, scopes, rate limits.

A key reads `cbk_<prefix>_<secret>`. The prefix finds its row; the SHA-256 of the whole key is
compared in constant time. A fast hash is enough: the secret is 256 random bits, not a password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiKey
from chat.models import Site

PREFIX = "cbk"
SCOPES = tuple(ApiKey.Scope.values)
# last_used is written at most this often per key, not on every request.
TOUCH_EVERY = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(scopes: str | Iterable[str]) -> list[str]:
    """Validated scopes in canonical order; ValueError names an unknown one."""
    wanted = {s.strip() for s in (scopes.split(",") if isinstance(scopes, str) else scopes) if s.strip()}
    unknown = wanted - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope {', '.join(sorted(unknown))}; scopes are {', '.join(SCOPES)}")
    if not wanted:
        raise ValueError(f"a key needs at least one scope of {', '.join(SCOPES)}")
    return [s for s in SCOPES if s in wanted]


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # the full key: shown once, never stored


def new_secret() -> tuple[str, str]:
    """A fresh (prefix, full key)."""
    prefix = secrets.token_hex(6)
    return prefix, f"{PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def create_key(site: Site, name: str, scopes: str | Iterable[str], **fields: Any) -> NewKey:
    prefix, secret = new_secret()
    key = ApiKey.objects.create(
        site=site, name=name, prefix=prefix, hashed=_digest(secret), scopes=",".join(parse_scopes(scopes)), **fields
    )
    return NewKey(key, secret)


def find_key(secret: str) -> ApiKey | None:
    """The live key this secret belongs to (its site active), or None."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    key = ApiKey.objects.select_related("site").filter(prefix=parts[1], revoked__isnull=True).first()
    if key is None or not key.site.is_active or not hmac.compare_digest(key.hashed, _digest(secret)):
        return None
    now = timezone.now()
    if key.last_used is None or now - key.last_used > TOUCH_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used=now)
        key.last_used = now
    return key


def revoke(key: ApiKey) -> None:
    if key.revoked is None:
        key.revoked = timezone.now()
        key.save(update_fields=["revoked"])


def agent_user(key: ApiKey) -> User:
    """Who agent messages posted with this key come from: its user, else its own service user."""
    if key.agent_id is not None and key.agent is not None:
        return key.agent
    user, _ = User.objects.get_or_create(
        username=f"api-{key.prefix}", defaults={"first_name": key.name[:150], "is_active": False}
    )
    ApiKey.objects.filter(pk=key.pk).update(agent=user)
    key.agent = user
    return user


# Django REST framework hooks.


class BearerKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer cbk_…`; a missing header is anonymous (401 from HasScope)."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise exceptions.AuthenticationFailed("use the header Authorization: Bearer <API key>")
        key = find_key(secret.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("this API key is not valid (unknown, revoked, or its site is off)")
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'  # makes DRF answer 401 (not 403) without a key


class HasScope(BasePermission):
    """Reads need the view's `read_scope`, writes its `write_scope` (both default read / write)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated("send an API key: Authorization: Bearer <API key>")
        needed = getattr(view, "read_scope", "read") if request.method in SAFE_METHODS else getattr(
            view, "write_scope", "write")
        if needed not in key.scope_set():
            raise exceptions.PermissionDenied(f"this key lacks the {needed!r} scope", code="scope_missing")
        return True


class KeyRateThrottle(SimpleRateThrottle):
    """Requests per minute per key (the key's own rate, else API_RATE_PER_MINUTE), in the shared cache."""

    def __init__(self) -> None:  # the rate is per key, read in allow_request
        pass

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        self.rate = f"{key.rate_per_minute or settings.API_RATE_PER_MINUTE}/min"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return bool(super().allow_request(request, view))

    def get_cache_key(self, request: Request, view: Any) -> str:
        return f"api-rate:{request.auth.prefix}"
