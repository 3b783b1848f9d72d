"""Helpers for the API tests: a key of the test site, and a client that sends it."""

from __future__ import annotations

from typing import Any

from django.test import AsyncClient, Client

from api.keys import create_key
from chat.models import Site


def key_for(site: Site, scopes: str = "read,write,admin", **fields: Any) -> str:
    return create_key(site, "tests", scopes, **fields).secret


def api_client(secret: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {secret}"})


async def async_post(secret: str, path: str, data: dict[str, Any]) -> Any:
    """POST JSON through Django's ASGI handler (AsyncClient applies default headers only to WSGI)."""
    return await AsyncClient().post(path, data, content_type="application/json",
                                    headers={"Authorization": f"Bearer {secret}"})


def error_code(response: Any) -> str:
    """The code of the API's one error shape (and proof that the response has that shape)."""
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return str(body["error"]["code"])
