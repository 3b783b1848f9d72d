"""Abuse limits for chat sockets: message rates and connections per IP (per web process)."""

from __future__ import annotations

import time
from collections import defaultdict


class RateLimiter:
    """A token bucket: `per_minute` events a minute, bursts up to `burst`."""

    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(1, min(per_minute, 10)))
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class PerIP:
    """Connection counts and message buckets keyed by client address, in this process."""

    def __init__(self) -> None:
        self.connections: dict[str, int] = defaultdict(int)
        self.buckets: dict[str, RateLimiter] = {}

    def connect(self, ip: str, cap: int) -> bool:
        if self.connections[ip] >= cap:
            return False
        self.connections[ip] += 1
        return True

    def disconnect(self, ip: str) -> None:
        self.connections[ip] -= 1
        if self.connections[ip] <= 0:
            self.connections.pop(ip, None)
            self.buckets.pop(ip, None)

    def allow_message(self, ip: str, per_minute: int) -> bool:
        bucket = self.buckets.get(ip)
        if bucket is None:
            bucket = self.buckets[ip] = RateLimiter(per_minute, burst=per_minute)
        return bucket.allow()


per_ip = PerIP()
