"""Shared fixtures: a site, a fake bundle through the registry's test hook, websocket helpers, the
one decision about a missing service, and the live stack the browser tests share."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import time
import uuid
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from knowledge.catalog import catalog
from chat.models import Site
from knowledge.models import Intent
from serving.intents import Prediction
from serving.registry import Hit, OneAtATime, registry
from tests.mail_support import eager_tasks, smtp_server  # noqa: F401 (fixtures for the mail tests)

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


# A missing service: skip locally, fail in CI.


def services_required() -> bool:
    """CI (`.ci/run` exports CI=true and REQUIRE_SERVICES=1) runs every test; nothing may be skipped."""
    return os.environ.get("REQUIRE_SERVICES") == "1" or os.environ.get("CI", "").lower() in ("true", "1")


def missing(reason: str) -> NoReturn:
    """The one decision about a service a test needs and does not find: skip here, fail in CI."""
    if services_required():
        pytest.fail(f"{reason} (CI runs every test: REQUIRE_SERVICES=1 or CI=true)", pytrace=False)
    pytest.skip(reason)


@functools.cache
def _unreachable_postgres(url: str) -> str | None:
    import psycopg

    admin = urlsplit(url)._replace(scheme="postgresql", path="/postgres", query="").geturl()
    try:
        psycopg.connect(admin, connect_timeout=5).close()
    except Exception as exc:  # any reason not to reach it is the same answer: missing
        return str(exc).strip() or type(exc).__name__
    return None


@functools.cache
def _unreachable_redis(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except Exception as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def need_postgres() -> str:
    """DATABASE_URL, when it names a PostgreSQL server that answers."""
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        missing("DATABASE_URL does not point to PostgreSQL")
    error = _unreachable_postgres(url)
    if error:
        missing(f"PostgreSQL at DATABASE_URL is not reachable: {error}")
    return url


def need_redis() -> str:
    """REDIS_URL, when it is set and Redis answers there."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        missing("REDIS_URL not set")
    error = _unreachable_redis(url)
    if error:
        missing(f"Redis at REDIS_URL is not reachable: {error}")
    return url


def need_redis_server() -> None:
    """For a test that runs its own redis-server: Redis is part of this machine's setup, and the binary."""
    need_redis()
    if shutil.which("redis-server") is None:
        missing("redis-server is not installed; this test runs its own instance")


def need_chromium() -> None:
    """For the browser tests: Chromium at CHROMIUM (Debian's, `make browser-deps`) and Playwright."""
    from tests.browser_support import CHROMIUM

    if not os.path.exists(CHROMIUM):
        missing(f"Chromium is not installed at {CHROMIUM} (make browser-deps)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("playwright is not installed (requirements-dev.txt)")


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """Close connections after each call in tests: pool threads that kept theirs would stop the
    test database from being dropped at the end of the run."""
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def _isolated(tmp_path, settings):
    """Every test gets its own artifacts dir, the in-memory layer, and a fresh registry."""
    from channels.layers import channel_layers

    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.SECURE_SSL_REDIRECT = False  # the test client speaks plain http
    settings.CHANNEL_LAYERS = IN_MEMORY
    # Consumers under test answer on threads: a helper process would not see pytest-django's
    # test database. The helper processes are exercised by the live-stack tests (tests/stack.py).
    settings.CHAT_ANSWER_PROCESSES = 0
    channel_layers.backends.clear()
    registry.reset()
    catalog.reset()
    from chat.limits import budgets

    # Limits count in this process unless a test shares them through Redis (tests/chat/test_limits.py).
    settings.REDIS_URL = ""
    budgets.reset()
    # Each process caches which sites want which webhook events; a test's rolled-back
    # subscriptions must not reach the next test, whose site may reuse the id (SQLite does).
    from api.webhooks import subscriptions

    subscriptions.reset()
    yield
    channel_layers.backends.clear()
    registry.reset()


class FakeBundle(OneAtATime):
    """Answers from a table: text → (intent, confidence, ranking); tickets by exact question."""

    version = "fake-1"

    def __init__(self, intents: dict[str, Any] | None = None, tickets: dict[str, int] | None = None):
        self.intents = intents or {}
        self.tickets = tickets or {}

    def predict(self, text: str) -> Prediction:
        found = self.intents.get(text.lower())
        if found is None:
            return Prediction(intent=None, confidence=0.05, ranking=[], threshold=0.5)
        intent, confidence, ranking = found
        return Prediction(
            intent=intent if confidence >= 0.5 else None,
            confidence=confidence,
            ranking=ranking or [(intent, confidence)],
            threshold=0.5,
        )

    def search(self, text: str, k: int = 5) -> list[Hit]:
        ticket_id = self.tickets.get(text.lower())
        return [Hit(ticket_id=ticket_id, score=0.93)] if ticket_id else []


@pytest.fixture
def fake_bundle():
    bundle = FakeBundle()
    with registry.override(bundle):
        yield bundle


@pytest.fixture
def site(db):
    return Site.objects.create(
        public_key="test-site",
        name="Test shop",
        allowed_origins="http://localhost:*\nhttps://shop.example.com",
        greeting="Hello from the test shop",
    )


@pytest.fixture
def refund_intent(db):
    return Intent.objects.create(
        name="refund",
        description="Get a refund",
        answer="Refunds take 5 business days.",
        quick_replies=["Talk to a person"],
    )


def chat_communicator(site_key: str = "test-site", *, origin: str | None = "http://localhost:3000",
                      query: str = "", client: tuple[str, int] = ("10.1.2.3", 5555)) -> WebsocketCommunicator:
    from config.asgi import application

    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    path = f"/ws/chat/?site={site_key}" + (f"&{query}" if query else "")
    communicator = WebsocketCommunicator(application, path, headers=headers)
    communicator.scope["client"] = list(client)
    return communicator


async def receive_until(communicator: WebsocketCommunicator, kind: str, timeout: float = 5) -> list[dict]:
    """Frames up to and including the first one of type `kind`."""
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        frames.append(frame)
        if frame["type"] == kind:
            return frames


async def receive_reply(communicator: WebsocketCommunicator, timeout: float = 5) -> dict:
    """Skip typing/status frames up to the bot's (or system's) next message."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == "message" and frame["sender"] in ("bot", "system", "agent"):
            return frame


def new_client_id() -> str:
    return str(uuid.uuid4())


async def until(condition: Callable[[], object], what: str, timeout: float = 5) -> None:
    """Wait for `condition()` to hold (checked every few ms, other tasks run meanwhile), or fail saying `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        await asyncio.sleep(0.005)


@pytest.fixture
def chat_sockets(monkeypatch):
    """The server side of every chat socket this test opens, to wait for what a socket knows."""
    from chat.consumers import ChatConsumer

    opened: list[ChatConsumer] = []
    connect = ChatConsumer.websocket_connect

    async def recorded(self, message):  # type: ignore[no-untyped-def]
        opened.append(self)
        return await connect(self, message)

    monkeypatch.setattr(ChatConsumer, "websocket_connect", recorded)
    return opened


async def until_tabs_know_each_other(sockets: list, tabs: int = 2) -> None:
    """A tab broadcasts only once it knows it has peers: wait until every tab's hello went round."""
    await until(lambda: len(sockets) == tabs and all(getattr(s, "has_peers", False) for s in sockets),
                f"the {tabs} tabs learnt of each other")


__all__ = ["FakeBundle", "chat_communicator", "receive_until", "receive_reply", "new_client_id", "override_settings",
           "until", "until_tabs_know_each_other", "services_required", "missing", "need_postgres", "need_redis",
           "need_redis_server", "need_chromium"]


# The live stack the browser test modules share (migrating its database is the slow part).


@pytest.fixture(scope="session")
def browser_stack():
    need_chromium()
    from tests.browser_support import browser_stack as configured

    with configured() as stack:
        stack.answer_once()
        yield stack


@pytest.fixture(scope="module")
def host(browser_stack):
    from tests.browser_support import HostPages

    pages = HostPages(browser_stack.url(0, ""))
    yield pages
    pages.close()


@pytest.fixture(scope="module")
def browser():
    """Chromium for one module: Playwright's sync API must be gone before asyncio tests run."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    from tests.browser_support import launch_browser

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()
