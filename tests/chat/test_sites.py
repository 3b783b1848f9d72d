"""A CSP on every page, the socket's Host checked against ALLOWED_HOSTS, and IPv6 literals in
allowed-origin patterns (issue 14, item 15)."""

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from chat.sites import origin_matches

pytestmark = [pytest.mark.django_db]


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/agent/", "/admin/", "/admin/chat/site/"])
def test_every_page_has_a_content_security_policy_without_inline_scripts(path, site):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-only"))
    response = client.get(path, secure=True)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy and "frame-ancestors 'self'" in policy


def test_the_widget_frame_keeps_its_own_policy(site):
    response = Client().get("/widget/frame/?site=test-site&origin=https://shop.example.com", secure=True)
    assert "frame-ancestors" in response["Content-Security-Policy"]
    assert "https://shop.example.com" in response["Content-Security-Policy"]


@pytest.mark.parametrize(("origin", "pattern", "allowed"), [
    ("http://[::1]:8080", "http://[::1]:*", True),
    ("http://1:8080", "http://[::1]:*", False),
    ("http://:8080", "http://[::1]:*", False),
    ("https://shop.example.com", "https://*.example.com", True),
    ("https://example.com.evil.net", "https://*.example.com", False),
    ("http://localhost:3000", "http://localhost:*", True),
    ("http://localhost:3000/x", "http://localhost:*", False),
])
def test_origin_patterns_treat_only_the_star_as_a_wildcard(origin, pattern, allowed):
    assert origin_matches(origin, pattern) is allowed


@pytest.mark.django_db(transaction=True)
async def test_a_socket_whose_host_is_not_allowed_is_refused_at_the_handshake(site, settings):
    from config.asgi import application

    settings.ALLOWED_HOSTS = ["chat.example.com"]
    refused = WebsocketCommunicator(application, "/ws/chat/?site=test-site", headers=[(b"host", b"evil.example.net")])
    connected, code = await refused.connect()
    assert not connected and code == 4403
    allowed = WebsocketCommunicator(application, "/ws/chat/?site=test-site", headers=[(b"host", b"chat.example.com")])
    connected, _ = await allowed.connect()
    assert connected
    await allowed.disconnect()
