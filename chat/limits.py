"""Abuse limits for chat sockets: message rates, and open connections per client address.

With REDIS_URL set, every web process of the deployment counts against the same budgets in
Redis: message rates through the `limits` library (sliding-window counters), open connections
in one sorted set per address whose entries each web process keeps fresh while its socket is
open, so the connections of a process that died drop out by themselves after CONNECTION_TTL.
Without Redis, or while Redis is unreachable, the budgets are this process's own, in memory.

Budgets are keyed by what the client cannot reset: the conversation (its token) and the
address. Reconnecting neither resets a rate nor frees more than the socket that closed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as SharedWindow
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter as LocalWindow

log = logging.getLogger(__name__)

PREFIX = "chatbot-limits"
# Seconds an open connection counts without being refreshed: after a web process dies, its
# customers reconnect elsewhere while their old places still count for up to this long.
CONNECTION_TTL = 30.0
REFRESH_EVERY = 10.0
RETRY_REDIS_AFTER = 5.0  # after a failure, count locally this long before trying Redis again
REDIS_TIMEOUT = 1.0

# KEYS[1]: the address's set; ARGV: now, expiry, cap, member. 1 when the member was added.
_OPEN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[2] - ARGV[1]))
return 1
"""


@dataclass(frozen=True)
class Ticket:
    """One open connection as counted: give it back to `disconnect`."""

    ip: str
    member: str
    shared: bool


class _Shared:
    """The Redis side, for one event loop (redis.asyncio clients belong to the loop they ran on)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio

        options: dict[str, Any] = {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
        self.storage = RedisStorage(f"async+{url}", implementation="redispy", wrap_exceptions=True,
                                    key_prefix=prefix, **options)
        self.window = SharedWindow(self.storage)
        self.redis = redis.asyncio.Redis.from_url(url, **options)
        self.open_script = self.redis.register_script(_OPEN)
        self.prefix = prefix
        self.members: dict[str, str] = {}  # member -> ip: this process's open connections
        self.refresher: asyncio.Task | None = None

    def key(self, ip: str) -> str:
        return f"{self.prefix}:connections:{ip}"

    async def connect(self, ip: str, cap: int, member: str) -> bool:
        now = time.time()
        added = await self.open_script(keys=[self.key(ip)], args=[now, now + CONNECTION_TTL, cap, member])
        if added:
            self.members[member] = ip
            if self.refresher is None or self.refresher.done():
                self.refresher = asyncio.get_running_loop().create_task(self.refresh())
        return bool(added)

    async def disconnect(self, ip: str, member: str) -> None:
        self.members.pop(member, None)
        await self.redis.zrem(self.key(ip), member)

    async def refresh(self) -> None:
        """Keep this process's open connections counted (they expire when it stops doing so)."""
        while self.members:
            await asyncio.sleep(REFRESH_EVERY)
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    expiry = time.time() + CONNECTION_TTL
                    for member, ip in list(self.members.items()):
                        pipe.zadd(self.key(ip), {member: expiry})  # back in after a Redis restart too
                        pipe.expire(self.key(ip), int(CONNECTION_TTL) + 1)
                    await pipe.execute()
            except Exception as exc:  # Redis away: the entries expire; added again on the next round
                log.warning("limits: could not refresh open connections in Redis (%s)", exc)


class _Local:
    """This process's own budgets."""

    def __init__(self) -> None:
        self.window = LocalWindow(MemoryStorage())
        self.connections: dict[str, set[str]] = defaultdict(set)
        self.lock = threading.Lock()

    def connect(self, ip: str, cap: int, member: str) -> bool:
        with self.lock:
            if len(self.connections[ip]) >= cap:
                return False
            self.connections[ip].add(member)
            return True

    def disconnect(self, ip: str, member: str) -> None:
        with self.lock:
            members = self.connections.get(ip)
            if members is not None:
                members.discard(member)
                if not members:
                    del self.connections[ip]


class Limits:
    """Connection counts and message rates, shared through Redis when there is one."""

    def __init__(self, prefix: str = PREFIX) -> None:
        self.prefix = prefix  # of every Redis key (tests use their own)
        self.local = _Local()
        self._shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared] = weakref.WeakKeyDictionary()
        self._redis_down_until = 0.0
        self._process = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def shared(self) -> _Shared | None:
        """The Redis budgets for this loop, or None without Redis or while it is unreachable."""
        url = settings.REDIS_URL
        if not url or time.monotonic() < self._redis_down_until:
            return None
        loop = asyncio.get_running_loop()
        shared = self._shared.get(loop)
        if shared is None:
            shared = self._shared[loop] = _Shared(url, self.prefix)
        return shared

    def redis_failed(self, exc: Exception) -> None:
        log.warning("limits: Redis unreachable (%s); counting in this process for %.0f s", exc, RETRY_REDIS_AFTER)
        self._redis_down_until = time.monotonic() + RETRY_REDIS_AFTER

    async def connect(self, ip: str, cap: int) -> Ticket | None:
        """Count one more open connection from `ip`, or None when it already has `cap`."""
        member = f"{self._process}-{uuid.uuid4().hex}"
        shared = self.shared()
        if shared is not None:
            try:
                return Ticket(ip, member, True) if await shared.connect(ip, cap, member) else None
            except Exception as exc:  # redis-py's connection and timeout errors
                self.redis_failed(exc)
        return Ticket(ip, member, False) if self.local.connect(ip, cap, member) else None

    async def disconnect(self, ticket: Ticket) -> None:
        if not ticket.shared:
            self.local.disconnect(ticket.ip, ticket.member)
            return
        shared = self._shared.get(asyncio.get_running_loop())
        if shared is None:
            return
        try:
            await shared.disconnect(ticket.ip, ticket.member)
        except Exception as exc:  # it expires by itself after CONNECTION_TTL
            self.redis_failed(exc)

    async def allow_message(self, conversation: str, ip: str) -> bool:
        """Take one message from the conversation's budget and from its address's."""
        checks = [
            (RateLimitItemPerMinute(settings.CHAT_RATE_PER_MINUTE), "conversation", conversation),
            (RateLimitItemPerMinute(settings.CHAT_RATE_PER_IP_PER_MINUTE), "address", ip),
        ]
        shared = self.shared()
        if shared is not None:
            try:
                # Both at once: one round trip's wait instead of two.
                hits = await asyncio.gather(*(shared.window.hit(item, *key) for item, *key in checks))
                return all(hits)
            except StorageError as exc:
                self.redis_failed(exc)
        return all(self.local.window.hit(item, *key) for item, *key in checks)

    def reset(self, prefix: str = PREFIX) -> None:
        """Forget this process's counts and use other Redis keys (tests)."""
        self.prefix = prefix
        self.local = _Local()
        self._shared.clear()
        self._redis_down_until = 0.0


budgets = Limits()


def advertised() -> dict[str, int]:
    """The limits a client enforces before sending: the `limits` of the server's first frame."""
    return {
        "max_message_chars": settings.CHAT_MAX_MESSAGE_CHARS,
        "max_frame_bytes": settings.CHAT_MAX_FRAME_BYTES,
        "rate_per_minute": settings.CHAT_RATE_PER_MINUTE,
    }
