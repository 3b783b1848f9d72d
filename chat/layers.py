"""The channel layer: channels-redis, made to outlive a Redis restart.

Stock channels-redis raises a Redis connection error out of `receive`, `send` and `group_add`,
which ends the consumer and closes the customer's socket (1011), and a restarted Redis has
forgotten every group. Here `receive` waits and retries while Redis is unreachable, a send that
cannot reach Redis is dropped with a warning, a group joined meanwhile is joined later, and once
Redis answers again this process's group memberships (which it remembers) are added back, so
chats keep working on their own process while Redis is away, and other tabs and agents hear
them again once it is back.
Dropping is what a channel layer promises anyway (at most once delivery); every chat message is
in the database first, and sockets replay what they missed from there when they reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import redis.exceptions
from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer

log = logging.getLogger(__name__)

UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, OSError)
MAX_RETRY_DELAY = 5.0


class RedisChannelLayer(StockRedisChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.memberships: dict[str, set[str]] = defaultdict(set)  # channel -> groups, in this process
        self.groups_lost = False

    async def group_add(self, group: str, channel: str) -> None:
        """Join a group; while Redis is unreachable, remember it and join once Redis is back."""
        self.memberships[channel].add(group)
        try:
            await super().group_add(group, channel)
        except UNREACHABLE as exc:
            self.groups_lost = True
            log.warning("channel layer: Redis unreachable (%s); %s joins %s when it is back", exc, channel, group)

    async def group_discard(self, group: str, channel: str) -> None:
        groups = self.memberships.get(channel)
        if groups is not None:
            groups.discard(group)
            if not groups:
                del self.memberships[channel]
        try:
            await super().group_discard(group, channel)
        except UNREACHABLE as exc:  # the membership expires in Redis by itself (group_expiry)
            log.warning("channel layer: Redis unreachable (%s); %s left %s only here", exc, channel, group)

    async def send(self, channel: str, message: dict) -> None:
        await self._deliver(super().send, channel, message)

    async def group_send(self, group: str, message: dict) -> None:
        await self._deliver(super().group_send, group, message)

    async def _deliver(self, send: Any, target: str, message: dict) -> None:
        """Send, trying twice: after a restart the first try meets a dead pooled connection."""
        for attempt in (1, 2):
            try:
                return await send(target, message)
            except UNREACHABLE as exc:
                self.groups_lost = True
                if attempt == 2:
                    log.warning("channel layer: Redis unreachable (%s); a message to %s was dropped", exc, target)

    async def receive(self, channel: str) -> dict:
        """The next message for `channel`; while Redis is unreachable, retry instead of failing."""
        delay = 0.1
        while True:
            try:
                if self.groups_lost:
                    await self.rejoin_groups()
                return await super().receive(channel)
            except UNREACHABLE as exc:
                self.groups_lost = True
                log.warning("channel layer: Redis unreachable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, MAX_RETRY_DELAY)

    async def rejoin_groups(self) -> None:
        """Add this process's channels back to their groups (a restarted Redis has none).

        Each channel then says hello in its groups again: sockets that opened while Redis was
        away (here or on other processes) never heard of each other, and a socket broadcasts
        only once it knows it has peers (chat/consumers.py).
        """
        for channel, groups in list(self.memberships.items()):
            for group in list(groups):
                await super().group_add(group, channel)
        for channel, groups in list(self.memberships.items()):
            for group in list(groups):
                await super().group_send(group, {"type": "peer.hello", "channel": channel})
        self.groups_lost = False
        log.info("channel layer: Redis is back; %d channels rejoined their groups", len(self.memberships))
