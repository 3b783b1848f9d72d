from collections.abc import Callable
from typing import Any

from django.urls import path

from chat import consumers


def websocket_urlpatterns(staff: Callable[[Any], Any] = lambda app: app) -> list:
    """The sockets: `staff` wraps the ones that need a logged-in user (the session and auth stack)."""
    return [
        path("ws/chat/", consumers.ChatConsumer.as_asgi()),
        path("ws/agent/", staff(consumers.AgentConsumer.as_asgi())),
    ]
