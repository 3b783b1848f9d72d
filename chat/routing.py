from channels.auth import AuthMiddlewareStack
from django.urls import path

from chat import consumers

# Customers are anonymous: only the agent socket goes through the session and auth middleware
# (which would otherwise wrap every frame of every customer's chat).
websocket_urlpatterns = [
    path("ws/chat/", consumers.ChatConsumer.as_asgi()),
    path("ws/agent/", AuthMiddlewareStack(consumers.AgentConsumer.as_asgi())),
]
