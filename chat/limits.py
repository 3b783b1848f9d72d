"""Abuse limits for chat sockets: message rates, and open connections per client address.

With REDIS_URL set, every web process of the deployment counts against the same budgets in
Redis: message rates as sliding-window counters (one Lua script takes a message from its
conversation's and its address's budget, for every message that arrived while the previous
round trip was out: one round trip per batch, not two per message), open connections in one
sorted set per address whose entries each web process keeps fresh while its socket is open, so
the connections of a process that died drop out by themselves after CONNECTION_TTL. Without
Redis, or while Redis is unreachable, the budgets are this process's own, in memory, counted
the same way.

Budgets are keyed by what the client cannot reset: the conversation (its token) and the
address. Reconnecting neither resets a rate nor frees more than the socket that closed. A
message is taken from both budgets or from neither: a refused one spends nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
import uuid
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

PREFIX = "chatbot-limits"
# Seconds an open connection counts without being refreshed: after a web process dies, its
# customers reconnect elsewhere while their old places still count for up to this long.
CONNECTION_TTL = 30.0
REFRESH_EVERY = 10.0
RETRY_REDIS_AFTER = 5.0  # after a failure, count locally this long before trying Redis again
REDIS_TIMEOUT = 1.0
# Connections to Redis per web process and event loop. Sockets that open or close at once wait
# for one (up to REDIS_TIMEOUT) instead of each opening its own: redis-py's own cap (100) failed
# with "Too many connections" under 200 busy sockets, and the limits fell back to per-process.
REDIS_CONNECTIONS = 16
WINDOW = 60.0  # seconds: the rates are per minute
BATCH = 256  # messages per round trip at most

# KEYS[1]: the address's set; ARGV: now, expiry, cap, member. 1 when the member was added.
_OPEN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[2] - ARGV[1]))
return 1
"""


# Sliding-window counters (the "sliding window counter" of Cloudflare and the `limits` library):
# a count per fixed minute, and the previous minute's count weighted by the share of it that
# still lies within the last 60 seconds. KEYS: four per message, the conversation's current and
# previous minute, then the address's. ARGV[1]: that weight, ARGV[2]: the keys' lifetime, then
# two limits per message. Returns 1 (taken from both budgets) or 0 (refused, nothing taken) per
# message, in order, so later messages of the batch see the earlier ones counted.
_TAKE = """
local weight = tonumber(ARGV[1])
local out = {}
for m = 0, #KEYS / 4 - 1 do
  local ok = 1
  for b = 0, 1 do
    local current = tonumber(redis.call('GET', KEYS[4 * m + 2 * b + 1])) or 0
    local previous = tonumber(redis.call('GET', KEYS[4 * m + 2 * b + 2])) or 0
    if previous * weight + current + 1 > tonumber(ARGV[3 + 2 * m + b]) then ok = 0 end
  end
  if ok == 1 then
    for b = 0, 1 do
      redis.call('INCR', KEYS[4 * m + 2 * b + 1])
      redis.call('EXPIRE', KEYS[4 * m + 2 * b + 1], ARGV[2])
    end
  end
  out[m + 1] = ok
end
return out
"""


def _window(now: float) -> tuple[int, float]:
    """The current minute's number and the weight of the previous minute's count."""
    index = math.floor(now / WINDOW)
    return index, 1.0 - (now - index * WINDOW) / WINDOW


@dataclass(frozen=True)
class _Take:
    """One message to take from its conversation's and its address's budget."""

    conversation: str
    ip: str
    per_conversation: int
    per_address: int


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

        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
        self.redis = redis.asyncio.Redis(connection_pool=pool)
        self.open_script = self.redis.register_script(_OPEN)
        self.take_script = self.redis.register_script(_TAKE)
        self.prefix = prefix
        self.members: dict[str, str] = {}  # member -> ip: this process's open connections
        self.refresher: asyncio.Task | None = None
        self.pending: list[tuple[_Take, asyncio.Future[bool]]] = []
        self.taker: asyncio.Task | None = None

    def take(self, item: _Take) -> asyncio.Future[bool]:
        """Whether the message may go (queued for the next round trip, which starts now if none is out)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self.pending.append((item, future))
        if self.taker is None or self.taker.done():
            self.taker = loop.create_task(self._take_pending())
        return future

    async def _take_pending(self) -> None:
        """One script run per batch, in arrival order, until nothing waits."""
        while self.pending:
            batch, self.pending = self.pending[:BATCH], self.pending[BATCH:]
            index, weight = _window(time.time())
            keys: list[str] = []
            args: list[Any] = [weight, int(2 * WINDOW) + 1]
            for item, _ in batch:
                for kind, key, limit in (("conversation", item.conversation, item.per_conversation),
                                         ("address", item.ip, item.per_address)):
                    base = f"{self.prefix}:rate:{kind}:{key}"
                    keys += [f"{base}:{index}", f"{base}:{index - 1}"]
                    args.append(limit)
            try:
                taken = await self.take_script(keys=keys, args=args)
            except Exception as exc:  # redis-py's connection and timeout errors: each caller decides
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), ok in zip(batch, taken, strict=True):
                if not future.done():  # its socket went away meanwhile
                    future.set_result(bool(ok))

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
        self.connections: dict[str, set[str]] = defaultdict(set)
        self.counts: dict[tuple[str, str, int], int] = {}  # (budget kind, key, minute) -> messages
        self.minute = 0
        self.lock = threading.Lock()

    def take(self, item: _Take) -> bool:
        """The sliding-window check of the Redis script, on this process's counts."""
        index, weight = _window(time.time())
        budgets = [(("conversation", item.conversation), item.per_conversation), (("address", item.ip), item.per_address)]
        with self.lock:
            if index != self.minute:  # only this minute's and the previous one's counts matter
                self.counts = {key: n for key, n in self.counts.items() if key[2] >= index - 1}
                self.minute = index
            for (kind, key), limit in budgets:
                if self.counts.get((kind, key, index - 1), 0) * weight + self.counts.get((kind, key, index), 0) + 1 > limit:
                    return False
            for (kind, key), _ in budgets:
                self.counts[(kind, key, index)] = self.counts.get((kind, key, index), 0) + 1
            return True

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
        if time.monotonic() < self._redis_down_until:
            return  # the other messages of a batch that failed together: said once
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
        """Take one message from the conversation's budget and from its address's (or from neither)."""
        item = _Take(conversation, ip, settings.CHAT_RATE_PER_MINUTE, settings.CHAT_RATE_PER_IP_PER_MINUTE)
        shared = self.shared()
        if shared is not None:
            try:
                return await shared.take(item)
            except Exception as exc:  # redis-py's connection and timeout errors
                self.redis_failed(exc)
        return self.local.take(item)

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
