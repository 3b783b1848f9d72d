"""A live stack for tests and benchmarks: the real product processes, each in its own subprocess.

    with Stack(daphnes=2, redis_url=url, celery=True) as stack:
        stack.ws_url(0, "/ws/chat/?site=demo")   # Daphne A
        stack.kill("daphne0"); stack.restart("daphne0")   # same port
        stack.sql("select count(*) from chat_message")

Every live-process test configures this one class: the services and fault tests (Redis, Celery,
two Daphnes), the browser tests (`tests/browser_support.browser_stack()`: DEBUG static files, the
demo and restricted sites, a staff user), `bench/load.py` and `bench/screenshots.py`. Whether a
missing service skips or fails a test is decided once, in `tests/conftest.missing`.

On enter:
  1. create a throwaway database (`stack_<random>` on the PostgreSQL server of DATABASE_URL, else a
     temporary SQLite file), `manage.py migrate` and `manage.py load_demo` on it (falling back to
     just the `demo` Site when the demo content cannot be imported), then the `setup` code if any;
  2. start N Daphne processes on free ports (and optionally one Celery worker), all with the same
     DATABASE_URL, REDIS_URL (or none: the in-memory layer) and ARTIFACTS_DIR;
  3. wait until every Daphne answers /healthz.
On exit every process group is killed (SIGKILL) and the database dropped.

`RedisServer` runs a private redis-server on a free port, so a test can restart Redis without
disturbing anyone else's, and nothing of this stack lands in a shared Redis.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STACK_SECRET_KEY = secrets.token_urlsafe(50)


class StackError(RuntimeError):
    """A process of the stack did not start or a command failed; the message has its log tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Any, timeout: float, message: str, every: float = 1.0) -> Any:
    """Poll `predicate` until it returns something truthy (returned), or fail with `message` at `timeout`.

    For what a live stack does in its own time (a worker's retrain, a webhook's retries): a wait
    for a condition, not a timing bound.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(message)


def _wait_port(port: int, timeout: float, alive: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise StackError(f"process for port {port} exited while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise StackError(f"nothing listens on port {port} after {timeout}s")


@dataclass
class Process:
    """One supervised subprocess: how to start it, where it logs, its own process group."""

    name: str
    argv: list[str]
    log: Path
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        handle = open(self.log, "ab")
        try:
            # A new session: kill() reaches the whole group (Celery's prefork children too).
            self.popen = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            handle.close()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            self.popen.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class RedisServer:
    """A private redis-server on a free port (no persistence), restartable on the same port."""

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError("redis-server is not installed")
        self.port = port or free_port()
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="stack-redis-")
        self.dir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.process = Process(
            "redis",
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--maxclients", "10000"],
            self.dir / "redis.log",
            port=self.port,
            env=dict(os.environ),
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process.start()
        _wait_port(self.port, 10, self.process.alive)
        return self

    def stop(self) -> None:
        self.process.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


class Database:
    """A throwaway database on the server of `database_url` (PostgreSQL) or a temporary SQLite file."""

    def __init__(self, database_url: str | None, workdir: Path) -> None:
        self.postgres = bool(database_url) and urlsplit(database_url).scheme in ("postgres", "postgresql")
        if self.postgres:
            parts = urlsplit(database_url)
            self.name = f"stack_{secrets.token_hex(6)}"
            # libpq gets no query string: it holds Django options (conn_max_age=...), not libpq ones.
            self.admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres", query=""))
            self.dsn = urlunsplit(parts._replace(scheme="postgresql", path=f"/{self.name}", query=""))
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
        else:
            self.path = workdir / "db.sqlite3"
            self.name = str(self.path)
            self.url = f"sqlite:///{self.path}"

    @classmethod
    def existing(cls, database_url: str) -> Database:
        """An existing database (e.g. a running server's), only for `sql()`; never created or dropped."""
        database = cls.__new__(cls)
        parts = urlsplit(database_url)
        database.postgres = parts.scheme in ("postgres", "postgresql")
        database.url = database_url
        database.name = parts.path.lstrip("/")
        database.dsn = urlunsplit(parts._replace(scheme="postgresql", query=""))
        database.path = Path(parts.path)
        return database

    def create(self) -> None:
        if self.postgres:
            self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.postgres:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def sql(self, query: str, params: tuple | list | None = None) -> list[tuple]:
        """Run one statement outside Django and return its rows (placeholders: %s)."""
        if self.postgres:
            import psycopg

            with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
                cursor = conn.execute(query, params)
                return cursor.fetchall() if cursor.description else []
        conn = sqlite3.connect(self.path, timeout=20)
        try:
            cursor = conn.execute(query.replace("%s", "?"), params or ())
            rows = cursor.fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()


class Stack:
    """N Daphne processes (+ optionally a Celery worker) over one throwaway database."""

    def __init__(
        self,
        daphnes: int = 1,
        *,
        celery: bool = False,
        database_url: str | None = None,
        redis_url: str | None = None,
        artifacts_dir: str | Path | None = None,
        env: dict[str, str] | None = None,
        load_demo: bool = True,
        setup: str | None = None,
        startup_timeout: float = 60,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="stack-")
        self.workdir = Path(self._tmp.name)
        self.database = Database(database_url if database_url is not None else os.environ.get("DATABASE_URL"),
                                 self.workdir)
        self.redis_url = redis_url
        self.artifacts_dir = Path(artifacts_dir) if artifacts_dir else self.workdir / "artifacts"
        self.n_daphnes = daphnes
        self.with_celery = celery
        self.load_demo = load_demo
        self.setup = setup  # Python run by `manage.py shell` once the database is ready (users, sites)
        self.startup_timeout = startup_timeout
        self.extra_env = env or {}
        self.processes: dict[str, Process] = {}
        self.demo_loaded: bool | None = None
        self._db_created = False

    # Environment and commands.

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "ARTIFACTS_DIR")}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=self.database.url,
            ARTIFACTS_DIR=str(self.artifacts_dir),
            # Plain http on localhost: cookies without the Secure flag, no HSTS.
            SECURE_HTTPS="false",
            PYTHONUNBUFFERED="1",
            # Production settings (DEBUG off) need their own key (check chat.E003).
            SECRET_KEY=os.environ.get("SECRET_KEY") or STACK_SECRET_KEY,
            ASGI_THREADS=os.environ.get("ASGI_THREADS", "24"),  # as `manage.py serve` runs Daphne
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    def manage(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run `manage.py <args>` against the stack's database and artifacts."""
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env(), capture_output=True, text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise StackError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        return result

    def shell(self, code: str, timeout: float = 120) -> str:
        """Run Python in `manage.py shell -c` and return its stdout."""
        return self.manage("shell", "--verbosity", "0", "-c", code, timeout=timeout).stdout

    def sql(self, query: str, params: tuple | list | None = None) -> list[tuple]:
        return self.database.sql(query, params)

    def count_messages(self, text: str) -> int:
        """How many stored messages have exactly this text."""
        return int(self.sql("SELECT COUNT(*) FROM chat_message WHERE text = %s", [text])[0][0])

    def message_counts(self, client_ids: list[str] | None = None) -> dict[str, int]:
        """Stored customer messages per client_id (all of them, or only these)."""
        rows = self.sql("SELECT client_id, COUNT(*) FROM chat_message WHERE client_id IS NOT NULL "
                        "GROUP BY client_id")
        counts = {cid: n for cid, n in rows}
        if client_ids is None:
            return counts
        return {cid: counts.get(cid, 0) for cid in client_ids}

    # Processes.

    def daphne(self, index: int) -> Process:
        return self.processes[f"daphne{index}"]

    def port(self, index: int = 0) -> int:
        return self.daphne(index).port  # type: ignore[return-value]

    def url(self, index: int = 0, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port(index)}{path}"

    def ws_url(self, index: int = 0, path: str = "/ws/chat/?site=demo") -> str:
        return f"ws://127.0.0.1:{self.port(index)}{path}"

    def _add_daphne(self, index: int) -> Process:
        port = free_port()
        process = Process(
            f"daphne{index}",
            [PYTHON, "-m", "config.web", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            self.workdir / f"daphne{index}.log",
            port=port,
            env=self.env(),
        )
        self.processes[process.name] = process
        return process

    def _add_celery(self, name: str = "celery") -> Process:
        process = Process(
            name,
            # Both queues: the default one and webhook deliveries' (CELERY_TASK_ROUTES).
            [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", "celery,integrations", "--concurrency", "1",
             "--pool", "prefork", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            self.workdir / f"{name}.log",
            env=self.env(),
        )
        self.processes[process.name] = process
        return process

    def answer_once(self, index: int = 0, timeout: float = 120) -> None:
        """Have Daphne `index` answer one chat: a fresh process starts its answer helper on its first
        chat, which on a busy machine took longer than a browser test's wait for a reply."""

        async def chat() -> None:
            client = ChatClient(self.ws_url(index), timeout=timeout)
            await client.say("Hello")
            await client.close()

        # On its own thread: the caller may be inside a running event loop (Playwright's sync API).
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, chat()).result()

    def start_celery(self, name: str, **env: str) -> Process:
        """Start a Celery worker `name` on a running stack (its database, broker and artifacts), with
        `env` added (mail settings, say); stop it with `kill(name)`."""
        process = self._add_celery(name)
        process.env = {**self.env(), **env}
        process.start()
        self.wait_log(process, "ready.")
        return process

    def start_process(self, name: str) -> None:
        process = self.processes[name]
        process.env = self.env()
        process.start()
        if process.port is not None:
            self.wait_healthy(process)
        elif name == "celery":
            self.wait_log(process, "ready.")

    def wait_healthy(self, process: Process) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://127.0.0.1:{process.port}/healthz"
        while time.monotonic() < deadline:
            if not process.alive():
                raise StackError(f"{process.name} exited while starting:\n{process.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise StackError(f"{process.name} did not answer {url} within {self.startup_timeout}s:\n{process.tail()}")

    def wait_log(self, process: Process, needle: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not process.alive():
                raise StackError(f"{process.name} exited while starting:\n{process.tail()}")
            if needle in process.log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise StackError(f"{process.name} did not log {needle!r} within {self.startup_timeout}s:\n{process.tail()}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill a process's whole group, by default with SIGKILL (no cleanup, like a crash)."""
        self.processes[name].kill(sig)

    def restart(self, name: str) -> None:
        """Start a killed process again (a Daphne comes back on the same port)."""
        process = self.processes[name]
        if process.alive():
            process.kill()
        deadline = time.monotonic() + 10
        while process.port is not None:
            try:  # the port may linger for a moment after the kill
                with socket.socket() as s:
                    # Daphne binds with SO_REUSEADDR too: TIME_WAIT leftovers do not count.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", process.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise StackError(f"port {process.port} still busy after killing {name}") from None
                time.sleep(0.1)
        self.start_process(name)

    # Lifecycle.

    def setup_database(self) -> None:
        self.database.create()
        self._db_created = True
        self.manage("migrate", "--noinput", "--verbosity", "0")
        if self.load_demo:
            result = self.manage("load_demo", check=False)
            self.demo_loaded = result.returncode == 0
            if not self.demo_loaded:
                # The demo content depends on other import commands; the chat needs only its Site.
                self.shell(
                    "from chat.models import Site\n"
                    "Site.objects.update_or_create(public_key='demo', defaults={'name': 'Demo shop', "
                    "'allowed_origins': 'http://localhost:*\\nhttp://127.0.0.1:*\\nhttp://[::1]:*'})"
                )
        if self.setup:
            self.shell(self.setup)

    def start(self) -> Stack:
        try:
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)
            self.setup_database()
            for index in range(self.n_daphnes):
                self._add_daphne(index)
            if self.with_celery:
                self._add_celery()
            for process in self.processes.values():
                process.env = self.env()
                process.start()
            for name in self.processes:
                process = self.processes[name]
                if process.port is not None:
                    self.wait_healthy(process)
                else:
                    self.wait_log(process, "ready.")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
        if self._db_created:
            try:
                self.database.drop()
            except Exception as exc:  # never hide the test's own failure behind a cleanup error
                print(f"stack: could not drop {self.database.name}: {exc}", file=sys.stderr)
            self._db_created = False
        self._tmp.cleanup()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in self.processes.values())

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ChatClient:
    """A customer that follows docs/protocol.md over a real websocket (the `websockets` library).

    It survives a dropped socket: it reconnects with its token and `after=<last seq seen>`, resends
    every message it has not seen acknowledged with the same client_id, and also resends its last
    message when that one was acknowledged but never answered (the server answers such a resend).
    """

    def __init__(self, url: Any, *, origin: str | None = None, timeout: float = 60) -> None:
        self.url = url  # a string, or a callable returning one (the server may move)
        self.origin = origin
        self.timeout = timeout
        self.ws: Any = None
        self.token: str | None = None
        self.id: str | None = None
        self.last_seq = 0
        self.sent: list[str] = []
        self.texts: dict[str, str] = {}
        self.acks: dict[str, set[int]] = {}
        self.answered: dict[str, dict[str, Any]] = {}
        self.frames: list[dict[str, Any]] = []
        self.connections = 0
        self.unavailable = 0  # "unavailable" error frames received

    def _url(self) -> str:
        base = self.url() if callable(self.url) else self.url
        if self.token:
            base += f"&token={self.token}&after={self.last_seq}"
        return base

    async def open(self) -> None:
        """Connect (retrying until the deadline), read the conversation frame, resend what is pending."""
        from websockets.asyncio.client import connect

        deadline = time.monotonic() + self.timeout
        while True:
            try:
                headers = {"Origin": self.origin} if self.origin else None
                self.ws = await connect(self._url(), additional_headers=headers, open_timeout=5,
                                        ping_interval=None, max_size=None)
                hello = await self._recv(5)
                if hello.get("type") == "error" and hello.get("code") == "unavailable":
                    raise ConnectionError("the server is unavailable right now")  # retried below
                if hello.get("type") != "conversation":
                    raise StackError(f"refused: {hello}")
                break
            except (TimeoutError, OSError, ConnectionError) as exc:
                await self._drop()
                if time.monotonic() > deadline:
                    raise StackError(f"could not reconnect within {self.timeout}s: {exc!r}") from exc
                await asyncio.sleep(0.2)
            except Exception as exc:  # websockets' own errors (InvalidStatus, ConnectionClosed...)
                await self._drop()
                if isinstance(exc, StackError) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        self.connections += 1
        self.token, self.id = hello["token"], hello["id"]
        for client_id in self.pending():
            await self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": self.texts[client_id]}))

    def pending(self) -> list[str]:
        """Unacknowledged messages, plus the last one if it was acknowledged but never answered."""
        pending = [cid for cid in self.sent if cid not in self.acks]
        if self.sent and self.sent[-1] in self.acks and self.sent[-1] not in self.answered:
            pending.append(self.sent[-1])
        return list(dict.fromkeys(pending))

    async def _drop(self) -> None:
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:
                pass
        self.ws = None

    async def _recv(self, timeout: float) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.frames.append(frame)
        return frame

    def _note(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ack":
            self.acks.setdefault(frame["client_id"], set()).add(frame["seq"])
            self.last_seq = max(self.last_seq, frame["seq"])
        elif kind == "message":
            self.last_seq = max(self.last_seq, frame["seq"])
            if frame.get("sender") in ("bot", "system", "agent"):
                # The answer to every acked customer message just before it.
                for cid in self.sent:
                    seqs = self.acks.get(cid)
                    if seqs and cid not in self.answered and min(seqs) < frame["seq"]:
                        self.answered[cid] = frame

    async def say(self, text: str, client_id: str | None = None) -> dict[str, Any]:
        """Send one message and wait, across reconnects, for its ack and its answer."""
        import uuid

        client_id = client_id or str(uuid.uuid4())
        self.sent.append(client_id)
        self.texts[client_id] = text
        if self.ws is None:
            await self.open()
        else:
            try:
                await self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
            except Exception:
                await self._drop()
        deadline = time.monotonic() + self.timeout
        while client_id not in self.answered:
            if time.monotonic() > deadline:
                raise StackError(f"no ack and answer for {client_id} within {self.timeout}s")
            if self.ws is None:
                await self.open()
                continue
            try:
                frame = await self._recv(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                continue
            except Exception:  # the socket died: reconnect, resend
                await self._drop()
                continue
            if frame.get("type") == "error" and frame.get("code") == "unavailable":
                # Not stored (the database is away): send what is pending again after a moment.
                self.unavailable += 1
                await asyncio.sleep(0.2)
                for pending in self.pending():
                    await self.ws.send(json.dumps({"type": "message", "client_id": pending,
                                                   "text": self.texts[pending]}))
                continue
            if frame.get("type") == "error":
                raise StackError(f"server refused {client_id}: {frame}")
            self._note(frame)
        return self.answered[client_id]

    async def close(self) -> None:
        await self._drop()
