"""Load benchmark: N concurrent closed-loop chat conversations against a live stack, then the echo ceiling.

    .venv/bin/python bench/load.py [--conversations 200] [--messages 10] [--url ws://HOST:PORT]
    .venv/bin/python bench/load.py --daphnes 2 --nginx   # through deploy/nginx (TLS) in front of two

Steps:
  1. Start the stack (tests/stack.py: Daphne + PostgreSQL + Redis + Celery worker) unless --url is given.
  2. Open every conversation first, then all send at once. Each conversation sends a message with a
     fresh client_id, waits for its ack and the bot's reply, and repeats (closed loop).
  3. Check in the database that every acknowledged client_id is stored exactly once
     (`lost`: acked but missing; `duplicated`: more than one row).
  4. Serve bench/echo_asgi.py with Daphne on this machine and drive it with the same client and
     concurrency (one frame out, its echo back): the ceiling. `ratio` = bot rate / echo rate.
Prints one JSON object, with CPU ms per message of the server (Daphne and its answer helpers),
this client and PostgreSQL, and after the bot phase the resident memory (RSS, now and peak) of
each Daphne and each of its Python children (`memory`, `largest_rss_mb`). With --profile, py-spy (`pip install py-spy`; not a product
dependency) samples the Daphne process during the bot phase and the top functions (own time and
cumulative) are added to the JSON; --profile-gil keeps only samples that hold the GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402

from tests.stack import Process, RedisServer, Stack, free_port  # noqa: E402

QUESTIONS = [
    "Where is my order?",
    "How long does shipping take?",
    "I want to return an item",
    "Can I pay with PayPal?",
    "My package arrived damaged",
    "How do I change my delivery address?",
    "Do you ship to Canada?",
    "When will I get my refund?",
    "Can I cancel my order?",
    "Is there a discount for students?",
    "the tracking page has not updated for days",
    "I was charged twice for the same thing",
    "how do I reset my password",
    "the jacket is too small, can I swap it for a large",
    "do you have a store in Berlin",
    "what is the weather like tomorrow",
]
DETAILS = ["", "", "order {n}", "my order number is {n}", "thanks", "please help", "it's urgent", "ref {n}"]
FRAME_TIMEOUT = 30.0
# The stack's own limits are for real customers; the benchmark is 200 of them on one address.
BENCH_ENV = {
    "CHAT_RATE_PER_MINUTE": "1000000",
    "CHAT_RATE_PER_IP_PER_MINUTE": "100000000",
    "CHAT_MAX_CONNECTIONS_PER_IP": "100000",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class Result:
    ack_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    replies: int = 0
    errors: Counter = field(default_factory=Counter)


def question(rng: Any) -> str:
    """A customer question, made unique by details, so no cache of recent texts can answer it."""
    detail = rng.choice(DETAILS).format(n=rng.randrange(10_000, 99_999))
    text = rng.choice(QUESTIONS)
    return f"{text} {detail}".strip() + (f" {rng.randrange(1000)}" if not detail else "")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def recv_json(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))


async def conversation(url: str, messages: int, start: asyncio.Event, ready: list, result: Result, *,
                       kind: str) -> None:
    """One client: connect (and read the chat's hello), wait for the start, then send `messages`
    messages, each with a fresh client_id, waiting for each one's answer before the next."""
    try:
        ws = await connect(url, open_timeout=60, max_size=None, ping_interval=None)
    except Exception as exc:
        result.errors[f"connect: {type(exc).__name__}"] += 1
        ready.append(None)
        return
    try:
        if kind == "chat":
            hello = await recv_json(ws)
            if hello.get("type") != "conversation":
                result.errors[f"handshake: {hello.get('code')}"] += 1
                return
        ready.append(ws)
        await start.wait()
        exchange = chat_exchange if kind == "chat" else echo_exchange
        for _ in range(messages):
            client_id = str(uuid.uuid4())
            sent = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": question(random)}))
            if not await exchange(ws, client_id, sent, result):
                break
    except Exception as exc:
        result.errors[f"{type(exc).__name__}"] += 1
    finally:
        if ws not in ready:
            ready.append(None)
        await ws.close()


async def chat_exchange(ws: Any, client_id: str, sent: float, result: Result) -> bool:
    """Wait for the message's ack, then the bot's answer; False after an error frame."""
    acked = False
    while True:
        frame = await recv_json(ws)
        kind = frame.get("type")
        if kind == "ack" and frame.get("client_id") == client_id:
            result.ack_ms.append((time.perf_counter() - sent) * 1000)
            result.acked.append(client_id)
            acked = True
        elif kind == "error":
            result.errors[f"error frame: {frame.get('code')}"] += 1
            return False
        elif kind == "message" and frame.get("sender") in ("bot", "system") and acked:
            result.reply_ms.append((time.perf_counter() - sent) * 1000)
            result.replies += 1
            return True


async def echo_exchange(ws: Any, client_id: str, sent: float, result: Result) -> bool:
    """Wait for the frame to come back; False if something else came."""
    if (await recv_json(ws)).get("client_id") != client_id:
        result.errors["wrong echo"] += 1
        return False
    result.reply_ms.append((time.perf_counter() - sent) * 1000)
    result.replies += 1
    return True


async def _warm_up(url: str) -> None:
    go = asyncio.Event()
    go.set()
    await conversation(url, 3, go, [], Result(), kind="chat")


async def drive(kind: str, url: str, conversations: int, messages: int, on_start: Any = None) -> dict[str, Any]:
    """Open all conversations, release them at once, and time the message phase."""
    result = Result()
    start = asyncio.Event()
    ready: list = []

    if kind == "chat":
        # Warm up: the first reply loads the model and the ticket index; that is not throughput.
        await _warm_up(url)
    opened = time.perf_counter()
    tasks = []
    for _ in range(conversations):
        tasks.append(asyncio.create_task(conversation(url, messages, start, ready, result, kind=kind)))
        await asyncio.sleep(0.005)  # a ramp, not a thundering herd of handshakes
    while len(ready) < conversations:
        await asyncio.sleep(0.05)
        if all(t.done() for t in tasks):
            break
    connect_s = time.perf_counter() - opened
    if on_start is not None:
        on_start()
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    report = {
        "connected": sum(1 for w in ready if w is not None),
        "connect_s": round(connect_s, 2),
        "duration_s": round(elapsed, 2),
        "replies": result.replies,
        "messages_per_s": round(result.replies / elapsed, 1) if elapsed else None,
        "reply_ms": {"p50": percentile(result.reply_ms, 0.5), "p99": percentile(result.reply_ms, 0.99)},
        "errors": sum(result.errors.values()),
        "error_kinds": dict(result.errors),
    }
    if kind == "chat":
        report["acked"] = len(result.acked)
        report["ack_ms"] = {"p50": percentile(result.ack_ms, 0.5), "p99": percentile(result.ack_ms, 0.99)}
    report["_acked"] = result.acked
    return report


def check_stored(sql: Any, acked: list[str]) -> dict[str, int]:
    counts = Counter()
    for start in range(0, len(acked), 1000):
        chunk = acked[start:start + 1000]
        marks = ",".join(["%s"] * len(chunk))
        rows = sql(f"SELECT client_id, COUNT(*) FROM chat_message WHERE client_id IN ({marks}) GROUP BY client_id",
                   chunk)
        counts.update(dict(rows))
    return {
        "lost": sum(1 for cid in set(acked) if counts.get(cid, 0) == 0),
        "duplicated": sum(1 for cid in set(acked) if counts.get(cid, 0) > 1),
        "acked_twice": len(acked) - len(set(acked)),
    }


class Profiler:
    """py-spy sampling one process while the bot phase runs (raw collapsed stacks)."""

    def __init__(self, pid: int, out: Path, seconds: int, gil: bool = False) -> None:
        self.pid, self.out, self.seconds, self.gil = pid, out, seconds, gil
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            sys.exit("--profile needs py-spy, a profiler that is not a dependency of the product: "
                     ".venv/bin/pip install py-spy")
        self.popen = subprocess.Popen(
            [spy, "record", "--pid", str(self.pid), "--format", "raw", "--rate", "200", "--nonblocking",
             "--duration", str(self.seconds), "--output", str(self.out), *(["--gil"] if self.gil else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> dict[str, Any]:
        if self.popen is None:
            return {}
        self.popen.send_signal(2)  # py-spy writes its output on SIGINT
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
        return summarize_profile(self.out)


def summarize_profile(path: Path, top: int = 20) -> dict[str, Any]:
    """Own-time and cumulative shares per function from py-spy's collapsed stacks."""
    if not path.exists():
        return {"error": "no profile written"}
    own: Counter = Counter()
    cumulative: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [f.strip() for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            cumulative[frame] += n
    share = lambda c: [(f, round(100 * n / total, 1)) for f, n in c.most_common(top)]  # noqa: E731
    return {"samples": total, "own_pct": share(own), "cumulative_pct": share(cumulative)}


class CpuMeter:
    """CPU seconds used by some processes and their children (and the whole machine) between start() and stop().

    Rates depend on what else the machine does; CPU per message does much less, so each
    phase reports the server's CPU milliseconds per message and how busy all cores were.
    """

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.tick = os.sysconf("SC_CLK_TCK")
        self.begin: dict[str, float] | None = None

    def _process_cpu(self, pids: list[int]) -> float:
        seconds = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds += (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime
        return seconds

    def _read(self) -> dict[str, float]:
        cpu = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        family = _with_descendants(self.pids)
        return {
            "server": self._process_cpu(family),
            "web": self._process_cpu(self.pids),
            "helpers": self._process_cpu([pid for pid in family if pid not in self.pids]),
            "client": self._process_cpu([os.getpid()]),
            "postgres": self._process_cpu(_pids_named("postgres")),
            "total": sum(cpu) / self.tick,
            "idle": (cpu[3] + cpu[4]) / self.tick,
        }

    def start(self) -> None:
        self.begin = self._read()

    def stop(self, messages: int) -> dict[str, Any]:
        """CPU ms per message of the server (the web processes, and their helpers), this client and
        PostgreSQL; how busy the machine was."""
        if self.begin is None or not messages:
            return {}
        end = self._read()
        used = {key: end[key] - self.begin[key] for key in end}
        per_message = {key: round(1000 * used[key] / messages, 3)
                       for key in ("server", "web", "helpers", "client", "postgres")}
        return {
            "server_cpu_ms_per_message": per_message["server"],
            "cpu_ms_per_message": per_message,
            "machine_busy_pct": round(100 * (1 - used["idle"] / used["total"]), 1) if used["total"] else None,
        }


def _with_descendants(pids: list[int]) -> list[int]:
    """The processes and all their children (a web process's answer helpers count as the server)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found = set(pids)
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return sorted(found)


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def memory(pids: list[int]) -> list[dict[str, Any]]:
    """Resident memory of the web processes and their children (answer helpers): now and peak, MB."""
    rows = []
    for pid in _with_descendants(pids):
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "python" not in command:  # the resource tracker and friends are Python too; nginx is not
            continue
        rows.append({
            "pid": pid,
            "role": "web" if pid in pids else ("helper" if "spawn_main" in command
                                                 else "other"),
            "command": command[:120],
            "rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
            "peak_rss_mb": round(int(status["VmHWM"].split()[0]) / 1024, 1),
        })
    return rows


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def run_echo(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="echo-") as tmp:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        daphne = Process("echo", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                  "bench.echo_asgi:application"], Path(tmp) / "echo.log", port=port, env=env)
        daphne.start()
        try:
            from tests.stack import _wait_port

            _wait_port(port, 30, daphne.alive)
            meter = CpuMeter([daphne.pid])
            report = asyncio.run(drive("echo", f"ws://127.0.0.1:{port}/ws/echo/", args.conversations, args.messages,
                                       meter.start))
            report.update(meter.stop(report["replies"]))
            return report
        finally:
            daphne.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10, help="messages per conversation")
    parser.add_argument("--url", help="ws://host:port of a running server (no stack is started)")
    parser.add_argument("--site", default="demo")
    parser.add_argument("--database-url", help="with --url: the server's database, for the lost/duplicated check")
    parser.add_argument("--redis-url", help="use this Redis instead of a private redis-server")
    parser.add_argument("--daphnes", type=int, default=1, help="Daphne processes in the started stack")
    parser.add_argument("--nginx", action="store_true",
                        help="drive every conversation through nginx (deploy/nginx, TLS) in front of the Daphnes")
    parser.add_argument("--no-celery", action="store_true")
    parser.add_argument("--no-echo", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy the (first) Daphne during the bot phase")
    parser.add_argument("--profile-out", help="with --profile: keep py-spy's raw collapsed stacks in this file")
    parser.add_argument("--profile-gil", action="store_true",
                        help="with --profile: only samples that hold the GIL (what bounds one process)")
    parser.add_argument("--artifacts-dir", help="ARTIFACTS_DIR for the stack (e.g. one with an active model)")
    parser.add_argument("--no-model", action="store_true",
                        help="skip training the demo model (replies then take the no-model fallback path)")
    args = parser.parse_args()

    report: dict[str, Any] = {"conversations": args.conversations, "messages": args.messages, "machine": machine()}
    path = f"/ws/chat/?site={args.site}"
    if args.url:
        chat = asyncio.run(drive("chat", args.url.rstrip("/") + path, args.conversations, args.messages))
        acked = chat.pop("_acked")
        if args.database_url:
            from tests.stack import Database

            report.update(check_stored(Database.existing(args.database_url).sql, acked))
        else:
            report.update({"lost": None, "duplicated": None})
    else:
        redis = None
        redis_url = args.redis_url
        if not redis_url:
            redis = RedisServer().start()
            redis_url = redis.url
        try:
            # Behind nginx the client's address comes from the one X-Forwarded-For entry it adds.
            env = {**BENCH_ENV, "PROXY_HEADERS": "true"} if args.nginx else BENCH_ENV
            with Stack(args.daphnes, celery=not args.no_celery, redis_url=redis_url, env=env,
                       artifacts_dir=args.artifacts_dir) as stack, front_of(stack, args) as front:
                if not args.no_model:
                    # A real bundle, so every reply runs the intent model and the ticket search.
                    stack.manage("retrain", "--if-none-active")
                report["stack"] = {"daphnes": args.daphnes, "celery": not args.no_celery, "nginx": args.nginx,
                                   "database": "postgresql" if stack.database.postgres else "sqlite",
                                   "redis": "private" if redis else redis_url, "demo_loaded": stack.demo_loaded,
                                   "active_model": _active_model(stack)}
                profiler = None
                if args.profile:
                    out = Path(args.profile_out) if args.profile_out else stack.workdir / "profile.txt"
                    profiler = Profiler(stack.daphne(0).pid, out, 600, gil=args.profile_gil)
                urls = [stack.ws_url(i, path) for i in range(args.daphnes)]
                server_pids = [stack.daphne(i).pid for i in range(args.daphnes)]
                if front is not None:
                    # A warm-up through nginx would reach one Daphne; each loads its model first.
                    for url in urls:
                        asyncio.run(_warm_up(url))
                    urls = [front.wss(path)]  # nginx spreads them over the Daphnes
                    server_pids.append(front.process.pid)  # its CPU counts as the server's
                meter = CpuMeter(server_pids)

                def on_start() -> None:
                    meter.start()
                    if profiler:
                        profiler.start()

                chat = asyncio.run(drive_many(urls, args, on_start, meter))
                report["memory"] = memory([stack.daphne(i).pid for i in range(args.daphnes)])
                report["largest_rss_mb"] = max((row["rss_mb"] for row in report["memory"]), default=None)
                if profiler:
                    report["profile"] = profiler.stop()
                acked = chat.pop("_acked")
                report.update(check_stored(stack.sql, acked))
                if chat["errors"]:
                    report["server_log_tail"] = stack.daphne(0).tail(15).splitlines()
        finally:
            if redis is not None:
                redis.stop()
    report["bot"] = chat
    report["messages_per_s"] = chat["messages_per_s"]
    if not args.no_echo:
        echo = run_echo(args)
        echo.pop("_acked")
        report["echo"] = echo
        report["echo_messages_per_s"] = echo["messages_per_s"]
        if echo["messages_per_s"] and chat["messages_per_s"] is not None:
            report["ratio"] = round(chat["messages_per_s"] / echo["messages_per_s"], 3)
    print(json.dumps(report, indent=2))


async def drive_many(urls: list[str], args: argparse.Namespace, on_start: Any, meter: CpuMeter) -> dict[str, Any]:
    """Spread the conversations over the stack's Daphne processes (round robin).

    The CPU meter starts when the first share of conversations starts sending, and stops when all are done.
    """
    if len(urls) == 1:
        report = await drive("chat", urls[0], args.conversations, args.messages, on_start)
        report.update(meter.stop(report["replies"]))
        return report
    shares = [args.conversations // len(urls) + (i < args.conversations % len(urls)) for i in range(len(urls))]
    parts = await asyncio.gather(*(drive("chat", u, n, args.messages, on_start if i == 0 else None)
                                   for i, (u, n) in enumerate(zip(urls, shares))))
    merged: dict[str, Any] = {"per_process": [{k: v for k, v in p.items() if k != "_acked"} for p in parts]}
    merged["_acked"] = [cid for p in parts for cid in p["_acked"]]
    merged["replies"] = sum(p["replies"] for p in parts)
    merged["duration_s"] = max(p["duration_s"] for p in parts)
    merged["messages_per_s"] = round(merged["replies"] / merged["duration_s"], 1)
    merged["errors"] = sum(p["errors"] for p in parts)
    merged.update(meter.stop(merged["replies"]))
    return merged


@contextlib.contextmanager
def front_of(stack: Stack, args: argparse.Namespace) -> Iterator[Any]:
    """With --nginx, nginx from deploy/nginx in front of the stack's Daphnes (TLS, trusted here)."""
    if not args.nginx:
        yield None
        return
    from tests.nginx import Nginx

    with Nginx([stack.port(i) for i in range(args.daphnes)], stack.workdir) as front:
        os.environ["SSL_CERT_FILE"] = str(front.cert)
        yield front


def _active_model(stack: Stack) -> str:
    try:
        out = stack.shell("from serving import registry; print('ACTIVE=' + (registry.active_version() or 'none'))")
        return out.rsplit("ACTIVE=", 1)[-1].strip()
    except Exception:
        return "unknown"


if __name__ == "__main__":
    main()
