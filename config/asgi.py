import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402

# Origins are checked per site key by the chat consumer (each Site lists its own), and the
# agent consumer requires a staff session; so the router itself accepts any origin. Customers
# are anonymous: only the agent socket goes through the session and auth middleware (which
# would otherwise wrap every frame of every customer's chat).
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns(staff=AuthMiddlewareStack)),
    }
)
