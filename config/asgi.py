import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402  (needs Django set up first)
from config.hosts import AllowedHostsOnly  # noqa: E402
from config.proxy import ProxiedClient  # noqa: E402

# Origins are checked per site key by the chat consumer (each Site lists its own), and the
# agent consumer requires a staff session; so the router itself accepts any origin.
# Behind reverse proxies, the client's address is read from X-Forwarded-For, trusting only
# the configured hops (config/proxy.py), for the per-address limits and for REMOTE_ADDR.
application = ProxiedClient(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedHostsOnly(URLRouter(websocket_urlpatterns)),
        }
    )
)
