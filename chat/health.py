"""Whether this web process can serve chats: what a load balancer's readiness probe asks.

Liveness is only "the process answers HTTP" (restart it when it does not). Readiness checks
what a chat needs from this process: the database answers, the channel layer's Redis answers,
and the active model bundle is the one that answers here: the answer helpers' when there are
some (CHAT_ANSWER_PROCESSES), which are asked, so that a probe never loads the model into the
web process itself (issue 20: a web process holds no numpy, no model, no index). Each check
says why it failed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection

from chat import inbox
from serving import registry

TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def database() -> Check:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error: the database cannot serve this process now
        connection.close_if_unusable_or_obsolete()
        return Check(False, f"{type(exc).__name__}: {exc}".strip())
    return Check(True, connection.vendor)


def channel_layer() -> Check:
    """Ping every Redis host of the channel layer (the in-memory layer is always there)."""
    layer = settings.CHANNEL_LAYERS["default"]
    hosts = layer.get("CONFIG", {}).get("hosts", [])
    if not hosts:
        return Check(True, "in-memory (this process only)")
    import redis

    for host in hosts:
        address = host["address"] if isinstance(host, dict) else host
        client = redis.Redis.from_url(address, socket_timeout=TIMEOUT_SECONDS,
                                      socket_connect_timeout=TIMEOUT_SECONDS)
        try:
            client.ping()
        except redis.exceptions.RedisError as exc:
            return Check(False, f"redis: {exc}")
        finally:
            client.close()
    return Check(True, "redis")


def model() -> Check:
    """The active bundle is the one this process serves (none published yet is fine: the bot
    clarifies and hands over)."""
    active = registry.active_version()
    try:
        serving = inbox.answers().ask(inbox.serving_version, TIMEOUT_SECONDS)
    except Exception as exc:  # not started yet, busy past the timeout, or died
        return Check(False, f"the answer helper did not say which bundle it serves ({type(exc).__name__})")
    if serving != active:
        return Check(False, f"active bundle {active!r} is not loaded here (serving {serving!r})")
    return Check(True, active or "none published")


def readiness() -> tuple[bool, dict[str, dict]]:
    checks = {"database": database(), "channel_layer": channel_layer(), "model": model()}
    return all(c.ok for c in checks.values()), {name: asdict(c) for name, c in checks.items()}
