"""Batches: calls from many sockets to one service function become one call on a worker thread.

A web process serves hundreds of sockets on one event loop. Storing and answering their
messages one at a time costs a thread hop, a transaction (with its disk flush) and a model run
each; gathered while the previous batch runs, the same work is one of each per batch: group
commit and batched inference. Batches form by themselves: the first item of a quiet moment
starts at once (a lone chat waits for nothing), items that arrive while a batch runs go in the
next one.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from channels.db import database_sync_to_async

T = TypeVar("T")
R = TypeVar("R")

# Database work runs on a thread pool, not Channels' default single thread per process: with
# one thread every conversation's queries queue behind each other. Each pool thread keeps its
# own connection (CONN_MAX_AGE), and database_sync_to_async closes stale ones around each call.
db = functools.partial(database_sync_to_async, thread_sensitive=False)


@dataclass
class _Queue:
    pending: list[tuple[Any, asyncio.Future]] = field(default_factory=list)
    running: int = 0
    tasks: set[asyncio.Task] = field(default_factory=set)


class Batcher(Generic[T, R]):
    """`await batcher.submit(item)` runs `fn([item, ...])` with whatever else is waiting.

    `fn` takes a list of items and returns one result per item, in order; a result that is an
    exception is raised to that item's caller only. If `fn` itself raises, every caller in the
    batch gets the error. At most `workers` batches run at once (one can wait on the database
    while the other computes), each of at most `max_size` items.
    """

    def __init__(self, fn: Callable[[list[T]], list[R | Exception]], *, max_size: int = 64, workers: int = 2) -> None:
        self.fn = fn
        self.max_size = max_size
        self.workers = workers
        # One queue per event loop: a server has one, tests start a new loop per test.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, _Queue())
        future: asyncio.Future = loop.create_future()
        queue.pending.append((item, future))
        if queue.running < self.workers:
            queue.running += 1
            task = loop.create_task(self._drain(queue))
            queue.tasks.add(task)
            task.add_done_callback(queue.tasks.discard)
        return await future

    async def _drain(self, queue: _Queue) -> None:
        try:
            while queue.pending:
                batch = queue.pending[: self.max_size]
                del queue.pending[: self.max_size]
                try:
                    results: list[Any] = await db(self.fn)([item for item, _ in batch])
                    if len(results) != len(batch):
                        raise RuntimeError(f"{self.fn.__name__} returned {len(results)} results for {len(batch)}")
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its socket went away meanwhile; the work is done regardless
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            queue.running -= 1
