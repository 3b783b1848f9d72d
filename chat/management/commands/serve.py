"""Start the product's processes (web, worker, beat), keep them running, stop them all on Ctrl-C.

A process that exits is restarted with backoff; each runs in its own process group, so its
helpers (the web process's answer helpers and multiprocessing resource tracker, the worker's
pool children) are killed with it and never outlive it. A process that keeps dying soon after
each start is a crash loop: `serve` says so and stops, rather than restarting it forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand


@dataclass
class Child:
    """One supervised process and its recent history."""

    name: str
    argv: list[str]
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_exits: int = 0  # exits in a row, each soon after its start
    restart_at: float | None = None
    exit_codes: list[int] = field(default_factory=list)


class CrashLoop(Exception):
    """A process exited too many times in a row soon after starting."""


class Supervisor:
    """Runs named commands, each in its own session (process group), and restarts those that exit.

    A child that ran at least `stable_after` seconds before exiting starts again after
    `first_delay`; one that exits sooner waits twice as long as the time before (up to
    `max_delay`), and after `max_quick_exits` such exits in a row the supervisor raises
    CrashLoop. When a child exits, whatever is left of its process group is killed first.
    """

    def __init__(
        self, commands: dict[str, list[str]], *, env: dict[str, str] | None = None,
        say: Callable[[str], None] = print, first_delay: float = 0.5, max_delay: float = 30.0,
        stable_after: float = 60.0, max_quick_exits: int = 5, poll: float = 0.2,
    ) -> None:
        self.children = {name: Child(name, argv) for name, argv in commands.items()}
        self.env = env
        self.say = say
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.max_quick_exits = max_quick_exits
        self.poll = poll
        self.stopping = False

    def start(self, child: Child) -> None:
        child.popen = subprocess.Popen(child.argv, start_new_session=True, env=self.env)
        child.started_at = time.monotonic()
        child.restart_at = None
        self.say(f"{child.name} started (pid {child.popen.pid})")

    def run(self) -> None:
        """Start every child and supervise until stop() is called; raises CrashLoop."""
        for child in self.children.values():
            self.start(child)
        try:
            while not self.stopping:
                self.check()
                time.sleep(self.poll)
        finally:
            self.stop_all()

    def stop(self, *_: object) -> None:
        """Ask run() to stop everything (safe to call from a signal handler)."""
        self.stopping = True

    def check(self) -> None:
        """Notice exited children, schedule their restart, and start those that are due."""
        now = time.monotonic()
        for child in self.children.values():
            if child.restart_at is not None:
                if now >= child.restart_at and not self.stopping:
                    self.start(child)
                continue
            if child.popen is None or child.popen.poll() is None:
                continue
            code = child.popen.returncode
            # The leader is gone but its group may not be: helpers blocked on a pipe from it
            # would wait forever (holding database connections).
            kill_group(child.popen.pid, signal.SIGKILL)
            ran = now - child.started_at
            child.exit_codes.append(code)
            child.quick_exits = child.quick_exits + 1 if ran < self.stable_after else 1
            if child.quick_exits >= self.max_quick_exits:
                raise CrashLoop(
                    f"{child.name} is crash-looping: it exited {child.quick_exits} times in a row, each within "
                    f"{self.stable_after:.0f} s of starting (exit codes {child.exit_codes[-child.quick_exits:]}); "
                    f"not restarting it again. Its own output above says why."
                )
            delay = min(self.max_delay, self.first_delay * 2 ** (child.quick_exits - 1))
            self.say(f"{child.name} exited with {describe(code)} after {ran:.1f} s; restarting in {delay:.1f} s")
            child.restart_at = now + delay

    def stop_all(self, grace: float = 15.0) -> None:
        """SIGTERM every child's group, then SIGKILL what is left after `grace` seconds."""
        running = [c.popen for c in self.children.values() if c.popen is not None]
        for popen in running:
            kill_group(popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for popen in running:
            try:
                popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Helpers too: a group outlives its leader.
            kill_group(popen.pid, signal.SIGKILL)


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


class Command(BaseCommand):
    help = ("Run Daphne, a Celery worker and Celery beat in the foreground, restarting any that dies; "
            "Ctrl-C stops all three.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args, port, host, **options):
        python = sys.executable
        var = settings.BASE_DIR / "var"
        (var / "broker" / "queue").mkdir(parents=True, exist_ok=True)
        (var / "broker" / "processed").mkdir(parents=True, exist_ok=True)
        # Daphne through config.web, which redacts its access log (issue 14, item 11).
        web = [python, "-m", "config.web", "-b", host, "-p", str(port)]
        # No --proxy-headers: Daphne believes the leftmost X-Forwarded-For entry, which the client
        # writes. config/proxy.py reads the header trusting only TRUSTED_PROXY_HOPS.
        commands = {
            "web": [*web, "config.asgi:application"],
            # One training at a time: a TensorFlow child is ~0.6 GB (STYLE.md §21).
            "worker": [python, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                       "--loglevel", "INFO"],
            # Webhook deliveries (api/webhooks.py): waiting on receivers, so threads, not processes.
            "integrations": [python, "-m", "celery", "-A", "config", "worker", "-Q", "integrations", "-n",
                             "integrations@%h", "--pool", "threads", "--concurrency", "4", "--loglevel", "INFO"],
            "beat": [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                     "--schedule", str(var / "celerybeat-schedule")],
        }
        # Database calls run on Daphne's thread pool; they mostly wait on the database, so more
        # threads than cores keep 200 chats moving (each thread holds one connection).
        env = {**os.environ, "ASGI_THREADS": os.environ.get("ASGI_THREADS", "24")}

        def say(line: str) -> None:
            self.stdout.write(f"serve: {line}")
            self.stdout.flush()

        supervisor = Supervisor(commands, env=env, say=say)
        signal.signal(signal.SIGINT, supervisor.stop)
        signal.signal(signal.SIGTERM, supervisor.stop)
        say(f"serving on http://{host}:{port}/ (web, worker, integrations worker, beat). Ctrl-C stops everything.")
        try:
            supervisor.run()
        except CrashLoop as exc:
            self.stderr.write(f"serve: ERROR: {exc}")
            self.stderr.write("serve: stopped everything.")
            sys.exit(1)
        say("stopped everything.")
