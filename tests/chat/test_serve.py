"""`manage.py serve` keeps the product's processes running: restarts, no orphans, crash loops, Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chat.management.commands.serve import CrashLoop, Supervisor
from tests.conftest import need_postgres, need_redis_server
from tests.stack import ROOT, ChatClient, RedisServer, Stack, free_port

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def process_state(pid: int) -> str | None:
    """The kernel's state letter for a process, None when it is gone (a zombie counts as gone: 'Z')."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def running(pid: int) -> bool:
    return process_state(pid) not in (None, "Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live processes in a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def wait_for(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Supervised:
    """A Supervisor running on a thread, with what it said."""

    def __init__(self, commands: dict[str, list[str]], **options) -> None:
        self.lines: list[str] = []
        self.supervisor = Supervisor(commands, say=self.lines.append, **options)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.supervisor.run()
        except BaseException as exc:
            self.error = exc

    def pids(self, name: str) -> list[int]:
        return [int(m.group(1)) for line in list(self.lines) if (m := re.match(rf"{name} started \(pid (\d+)\)", line))]

    def started(self, *names: str) -> list[int] | None:
        """The first pid of each named process once all of them have started."""
        firsts = [self.pids(name)[:1] for name in names]
        return [pid for first in firsts for pid in first] if all(firsts) else None

    def __enter__(self) -> Supervised:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.supervisor.stop()
        self.thread.join(30)


def test_a_killed_process_is_started_again():
    with Supervised({"web": SLEEPER, "beat": SLEEPER}, first_delay=0.05) as run:
        first, beat = wait_for(lambda: run.started("web", "beat"), what="web and beat to start")
        os.kill(first, signal.SIGKILL)
        pids = wait_for(lambda: run.pids("web")[1:] and run.pids("web"), what="web to start again")
        assert running(pids[1]) and pids[1] != first
        assert run.pids("beat") == [beat], "the other processes were restarted too"
        assert any(line.startswith("web exited with signal SIGKILL") for line in run.lines)


def test_the_helpers_of_a_killed_process_are_killed_with_it(tmp_path):
    helper_pid = tmp_path / "helper.pid"
    parent = [sys.executable, "-c",
              "import subprocess, sys, time\n"
              f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
              f"open({str(helper_pid)!r}, 'w').write(str(p.pid))\n"
              "time.sleep(600)\n"]
    with Supervised({"web": parent}, first_delay=0.05) as run:
        first = wait_for(lambda: run.pids("web"), what="web to start")[0]
        helper = int(wait_for(lambda: helper_pid.exists() and helper_pid.read_text(), what="the helper"))
        helper_pid.unlink()
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: run.pids("web")[1:], what="web to start again")
        wait_for(lambda: not running(helper), what="the orphaned helper to die")


def test_a_crash_loop_is_reported_instead_of_restarted_forever():
    failing = [sys.executable, "-c", "raise SystemExit(3)"]
    with Supervised({"web": failing, "beat": SLEEPER}, first_delay=0.01, max_quick_exits=3) as run:
        run.thread.join(30)
    beat = run.pids("beat")[0]  # started before the loop began
    assert isinstance(run.error, CrashLoop)
    assert "web is crash-looping" in str(run.error) and "[3, 3, 3]" in str(run.error)
    assert len(run.pids("web")) == 3
    assert not running(beat), "the other processes were left running"


def test_stop_ends_every_process_and_its_helpers(tmp_path):
    helper_pid = tmp_path / "helper.pid"
    parent = [sys.executable, "-c",
              "import signal, subprocess, sys, time\n"
              "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"  # the leader leaves its helper behind
              f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
              f"open({str(helper_pid)!r}, 'w').write(str(p.pid))\n"
              "time.sleep(600)\n"]
    with Supervised({"web": parent, "worker": SLEEPER}) as run:
        web, worker = wait_for(lambda: run.started("web", "worker"), what="both")
        helper = int(wait_for(lambda: helper_pid.exists() and helper_pid.read_text(), what="the helper"))
    assert run.error is None
    for pid in (web, worker, helper):
        wait_for(lambda pid=pid: not running(pid), timeout=5, what=f"{pid} to end")


def test_an_answer_helper_dies_with_its_web_process_even_without_a_supervisor(tmp_path):
    pids = tmp_path / "pids"
    web = subprocess.Popen(
        [sys.executable, "-c",
         "import django, os, time\n"
         "django.setup()\n"
         "from chat.inbox import Batcher\n"
         "batcher = Batcher(len, processes=lambda: 1)\n"
         "batcher.start()\n"
         "helper, = batcher._pool._processes\n"
         f"open({str(pids)!r}, 'w').write(str(helper))\n"
         "time.sleep(600)\n"],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}, start_new_session=True,
    )
    try:
        helper = int(wait_for(lambda: pids.exists() and pids.read_text(), what="the helper to start"))
        wait_for(lambda: any("spawn_main" in arg for arg in cmdline(helper)), what="the helper to run")
        os.kill(web.pid, signal.SIGKILL)  # the web process alone: its group is left as it is
        web.wait(10)
        wait_for(lambda: not running(helper), what="the helper to die with its web process")
    finally:
        try:
            os.killpg(web.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


# The whole product under `manage.py serve`, on a throwaway database and a private Redis.


@pytest.mark.services
def test_chats_resume_after_the_web_process_is_killed_and_nothing_is_left_behind():
    need_postgres()
    need_redis_server()
    port = free_port()
    with RedisServer() as redis, Stack(0, redis_url=redis.url) as stack:
        log = stack.workdir / "serve.log"
        with open(log, "wb") as out:
            serve = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT,
                                     env=stack.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

        def started(name: str) -> list[int]:
            return [int(p) for p in re.findall(rf"{name} started \(pid (\d+)\)", log.read_text(errors="replace"))]

        try:
            first = wait_for(lambda: started("web"), what="web to start")[0]
            client = ChatClient(f"ws://127.0.0.1:{port}/ws/chat/?site=demo", timeout=90)

            async def chat(text: str) -> None:
                await client.say(text)

            asyncio.run(chat("Where is my order?"))
            helpers = [pid for pid in group_members(first) if pid != first]
            assert helpers, "the web process started no answer helper"

            os.kill(first, signal.SIGKILL)
            second = wait_for(lambda: started("web")[1:], what="web to start again")[0]
            asyncio.run(chat("How long does shipping take?"))  # reconnects to the new web process
            asyncio.run(client.close())
            assert client.connections == 2
            assert [pid for pid in helpers if running(pid)] == [], "the killed web process left orphans"
            assert "web exited with signal SIGKILL" in log.read_text()

            everything = [pid for pid in started(r"\w+") if running(pid)]  # web, workers, beat
            assert second in everything and first not in everything
            groups = {pid: group_members(pid) for pid in everything}
            serve.send_signal(signal.SIGINT)  # Ctrl-C
            assert serve.wait(60) == 0, log.read_text()[-3000:]
            left = [pid for members in groups.values() for pid in members if running(pid)]
            assert left == [], f"still running after Ctrl-C: {left}"
            stored = stack.sql("SELECT client_id FROM chat_message WHERE sender = 'customer' ORDER BY id")
            assert [cid for cid, in stored] == client.sent
        finally:
            if serve.poll() is None:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait(10)
            for pid in started(r"\w+"):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
