"""The inbox: every socket's customer messages are stored together and answered together.

`messages()` stores them (chat.store, one transaction per batch) and `answers()` answers the
stored questions (chat.replies, one model batch) in a helper process; a batch whose helper died
is answered again here by `answer_again`, which finds the answers already stored: each customer
message is answered exactly once. Both are built on first use, not when a module is imported.

Batches: calls from many sockets to one service function become one call on a worker thread.

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
import logging
import multiprocessing
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections

if TYPE_CHECKING:  # a helper process imports this module before django.setup(): no models at import
    from chat.frames import Outbound
    from chat.replies import Question
    from chat.store import Incoming, Received

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

# Database work runs on a thread pool, not Channels' default single thread per process: with
# one thread every conversation's queries queue behind each other. Each pool thread keeps its
# own connection (CONN_MAX_AGE), and database_sync_to_async closes stale ones around each call.
db = functools.partial(database_sync_to_async, thread_sensitive=False)


@dataclass
class _Queue:
    pending: list[tuple[Any, asyncio.Future[Any]]] = field(default_factory=list)
    running: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Batcher(Generic[T, R]):
    """`await batcher.submit(item)` runs `fn([item, ...])` with whatever else is waiting.

    `fn` takes a list of items and returns one result per item, in order; a result that is an
    exception is raised to that item's caller only. If `fn` itself raises, every caller in the
    batch gets the error. At most `workers` batches run at once (one can wait on the database
    while the other computes), each of at most `max_size` items.
    """

    def __init__(
        self, fn: Callable[[list[T]], Sequence[R | Exception]], *, max_size: int = 64, workers: int = 2,
        processes: Callable[[], int] | None = None, retry: Callable[[list[T]], Sequence[R | Exception]] | None = None,
    ) -> None:
        self.fn = fn
        # What runs a batch again on this process's threads when its helper died mid-batch (the
        # helper may have done part of the work): `fn` itself unless it needs to know.
        self.retry = retry or fn
        self.max_size = max_size
        self.workers = workers
        # One queue per event loop: a server has one, tests start a new loop per test.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()
        # `processes()`: how many helper processes run `fn` (0: threads of this process). A web
        # process is bound by one core under the GIL; work done in a helper is work it does not do.
        self._processes = processes or (lambda: 0)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the helper processes now (they load Django and the work's own state), if any."""
        if self._pool is None and self._processes() > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=self._processes(), mp_context=multiprocessing.get_context("spawn"),
                initializer=_setup_helper,
            )
            self._pool.submit(_run_in_helper, self.fn, [])  # warm up: the first batch pays no start-up

    async def _run(self, items: list[T]) -> Sequence[Any]:
        self.start()
        pool = self._pool
        if pool is not None:
            try:
                done: Sequence[Any] = await asyncio.get_running_loop().run_in_executor(
                    pool, _run_in_helper, self.fn, items)
                return done
            except BrokenProcessPool:
                # A helper died (killed, out of memory): this batch runs here, the next ones in
                # a fresh helper. Other batches in flight meet the same broken pool.
                self._drop(pool)
                again: Sequence[Any] = await db(self.retry)(items)
                return again
        results: Sequence[Any] = await db(self.fn)(items)
        return results

    def ask(self, fn: Callable[[list[Any]], S], timeout: float) -> S:
        """`fn([])` where the batches run (a helper process, else here), waiting at most `timeout` seconds.

        For a question about the helper's own state (the bundle it serves), not for work: it
        waits behind the batches already queued there. Raises TimeoutError, or BrokenProcessPool
        when the helper died.
        """
        self.start()
        pool = self._pool
        if pool is None:
            return fn([])
        try:
            return pool.submit(_run_in_helper, fn, []).result(timeout)
        except BrokenProcessPool:
            self._drop(pool)
            raise

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        """Forget a pool whose helper died: the next batch or question starts a fresh one."""
        if self._pool is pool:
            log.error("a helper process of %s died; starting a new one", self.fn.__name__)
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, _Queue())
        future: asyncio.Future[R] = loop.create_future()
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
                    results: Sequence[Any] = await self._run([item for item, _ in batch])
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


def _setup_helper() -> None:
    _die_with_parent()
    setup_answering_process()


# The admin app as installed minus its autodiscovery (Django's own SimpleAdminConfig): a
# process that only answers never shows an admin page. Importing every app's admin.py made
# django.setup() 13 MB larger; answering imports most of the same modules anyway, so a helper
# holds ~1 MB less after its first answers (docs/benchmarks.md, "Memory, fourth pass").
ADMIN_APP = "django.contrib.admin"
ADMIN_WITHOUT_DISCOVERY = "django.contrib.admin.apps.SimpleAdminConfig"


def setup_answering_process() -> None:
    """django.setup() for a process that answers and serves no pages: the admin's models without its modules."""
    import django

    installed = list(settings.INSTALLED_APPS)
    if ADMIN_APP in installed:
        installed[installed.index(ADMIN_APP)] = ADMIN_WITHOUT_DISCOVERY
        settings.INSTALLED_APPS = installed
    django.setup()


# How often a helper checks that its web process still runs.
PARENT_CHECK_SECONDS = 0.5


def _die_with_parent() -> None:
    """Exit this helper within PARENT_CHECK_SECONDS of the web process that started it dying.

    A helper waits on a pipe from its web process and would wait forever after a `kill -9` of
    it, holding a database connection (and keeping the resource tracker alive). A thread of the
    helper watches its parent's pid. Not the kernel's PR_SET_PDEATHSIG, used before: it fires
    when the *thread* that spawned the helper ends, and a pool started from a request's thread
    (the readiness probe asking the helper, chat.health) lost its helper as that request ended.
    """
    started_by = multiprocessing.parent_process()
    parent = started_by.pid if started_by is not None else os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _run_in_helper(fn: Callable[[list[Any]], S], items: list[Any]) -> S:
    """Run one batch in a helper process, with Django's connection hygiene around it."""
    close_old_connections()
    try:
        return fn(items)
    finally:
        close_old_connections()


# --- the two inboxes of a web process ------------------------------------------------------


@functools.cache
def messages() -> Batcher[Incoming, Received]:
    """Customer messages from all of this process's sockets, stored in one transaction per batch."""
    from chat import store

    return Batcher(store.receive_customer_messages)


@functools.cache
def answers() -> Batcher[Question, Outbound]:
    """Stored questions answered in batches by CHAT_ANSWER_PROCESSES helpers (0: on threads here),
    handed back as the frames their sockets send."""
    return Batcher(answer, processes=lambda: settings.CHAT_ANSWER_PROCESSES, retry=answer_again)


def answer(questions: list[Question], *, again: bool = False) -> list[Outbound]:
    """Answer a batch (chat.replies) and serialize the answers where that ran (a helper process)."""
    from chat import frames, replies

    return [frames.outbound(reply) for reply in replies.respond_many(questions, again=again)]


def serving_version(_: list[Any]) -> str:
    """The bundle version this process answers with (for `answers().ask`: the helper's own)."""
    from serving import registry

    return registry.current().version


def answer_again(questions: list[Question]) -> list[Outbound]:
    """A batch whose helper died, maybe after storing its answers: hand back those, answer the rest."""
    return answer(questions, again=True)
