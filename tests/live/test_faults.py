"""Faults on a live stack: Daphne killed mid-conversation, Redis restarted, the Celery worker killed mid-retrain.

Each test runs the real processes through tests/stack.py on a throwaway database and a private
redis-server, so nothing shared is disturbed. A missing service skips them here and fails them in CI
(tests.conftest.missing).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import need_postgres, need_redis_server
from tests.stack import ROOT, ChatClient, RedisServer, Stack

pytestmark = [pytest.mark.services]

# The fault tests use the demo bot; no rate limit may get in the way of a burst of resends.
STACK_ENV = {"CHAT_RATE_PER_MINUTE": "10000", "CHAT_RATE_PER_IP_PER_MINUTE": "100000"}
QUESTIONS = ["Where is my order?", "How long does shipping take?", "Can I pay with PayPal?",
             "I want to return an item", "Do you ship to Canada?", "When will I get my refund?"]


@pytest.fixture
def database_url() -> str:
    return need_postgres()


@pytest.fixture
def redis():
    """A private redis-server (needs the binary, as on the CI machine) that a test may restart."""
    need_redis_server()
    with RedisServer() as server:
        yield server


def conversation_rows(stack: Stack, public_id: str) -> list[tuple]:
    return stack.sql(
        "SELECT m.seq, m.sender, m.client_id FROM chat_message m JOIN chat_conversation c "
        "ON c.id = m.conversation_id WHERE c.public_id = %s ORDER BY m.seq",
        [public_id],
    )


def assert_delivered_exactly_once(stack: Stack, client: ChatClient) -> None:
    """Every message acked with one seq, stored once, in sending order, answered once."""
    assert all(len(client.acks[cid]) == 1 for cid in client.sent), client.acks
    rows = conversation_rows(stack, client.id)
    stored = [cid for _, sender, cid in rows if sender == "customer"]
    assert stored == client.sent, "stored customer messages differ from the ones sent (lost, duplicated or reordered)"
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1)), "seqs are not dense"
    acked_seqs = [next(iter(client.acks[cid])) for cid in client.sent]
    assert acked_seqs == [seq for seq, sender, _ in rows if sender == "customer"]
    senders = [sender for _, sender, _ in rows]
    assert senders == ["customer", "bot"] * len(client.sent), f"not one answer per message: {senders}"


async def converse(client: ChatClient, index: int, messages: int) -> None:
    """One customer asking `messages` questions in a row, then leaving."""
    for i in range(messages):
        await client.say(f"{QUESTIONS[(index + i) % len(QUESTIONS)]} ({i})")
    await client.close()


def test_clients_lose_and_duplicate_nothing_when_daphne_is_killed_mid_conversation(database_url, redis):
    with Stack(1, redis_url=redis.url, env=STACK_ENV) as stack:
        clients = [ChatClient(lambda: stack.ws_url(0), timeout=60) for _ in range(4)]
        killed = asyncio.Event()

        async def killer() -> None:
            # Kill -9 while conversations are in flight, then bring Daphne back on the same port.
            while sum(len(c.acks) for c in clients) < 6:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(stack.kill, "daphne0")
            killed.set()
            await asyncio.to_thread(stack.restart, "daphne0")

        async def scenario() -> None:
            await asyncio.gather(killer(), *(converse(c, i, 6) for i, c in enumerate(clients)))

        asyncio.run(scenario())
        assert killed.is_set()
        assert any(c.connections > 1 for c in clients), "no client had to reconnect"
        for client in clients:
            assert_delivered_exactly_once(stack, client)
        counts = stack.message_counts([cid for c in clients for cid in c.sent])
        assert set(counts.values()) == {1}


def answer_helpers(pid: int) -> list[int]:
    """The answer helper processes of one web process (spawned children, not the resource tracker)."""
    helpers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            helpers.append(int(entry.name))
    return helpers


def test_nothing_is_lost_when_an_answer_helper_is_killed_mid_conversation(database_url, redis):
    with Stack(1, redis_url=redis.url, env={**STACK_ENV, "CHAT_ANSWER_PROCESSES": "1"}) as stack:
        clients = [ChatClient(lambda: stack.ws_url(0), timeout=60) for _ in range(4)]
        killed: list[int] = []

        async def killer() -> None:
            while sum(len(c.answered) for c in clients) < 6:
                await asyncio.sleep(0.01)
            helpers = answer_helpers(stack.daphne(0).pid)
            for pid in helpers:
                os.kill(pid, signal.SIGKILL)
            killed.extend(helpers)

        async def scenario() -> None:
            await asyncio.gather(killer(), *(converse(c, i, 6) for i, c in enumerate(clients)))

        asyncio.run(scenario())
        assert killed, "no answer helper was found to kill"
        assert stack.daphne(0).alive()
        assert all(c.connections == 1 for c in clients), "a customer's socket was dropped"
        for client in clients:
            # Even a batch whose answers were committed just before the kill is answered once:
            # the web process finds them (Message.reply_to) instead of answering again.
            assert_delivered_exactly_once(stack, client)
        assert set(answer_helpers(stack.daphne(0).pid)) - set(killed), "no new helper took over"


def test_the_chat_recovers_after_redis_restarts(database_url, redis):
    with Stack(2, redis_url=redis.url, env=STACK_ENV) as stack:

        async def tabs_on_two_processes() -> tuple[ChatClient, ChatClient]:
            first = ChatClient(lambda: stack.ws_url(0), timeout=30)
            await first.open()
            second = ChatClient(lambda: stack.ws_url(1), timeout=30)
            second.token = first.token
            await second.open()
            return first, second

        async def echo_across(first: ChatClient, second: ChatClient, text: str) -> None:
            """A message said on the tab on A reaches the tab on B through Redis.

            A tab broadcasts once it has heard the other tab's hello, and after a Redis restart once
            both processes are back in their groups: neither is signalled to the customer, so the
            tab on A says `text` again (a new message, stored and answered like any) until one of
            its messages reaches B.
            """
            deadline = time.monotonic() + 30
            while True:
                await first.say(text)
                said = set(first.sent)
                crossed = time.monotonic() + 2  # how long one message may take to show on B
                while time.monotonic() < crossed:
                    try:
                        frame = await second._recv(max(0.1, crossed - time.monotonic()))
                    except TimeoutError:
                        break
                    if frame.get("type") == "message" and frame.get("client_id") in said:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError("no message reached the other process within 30 s")

        async def scenario() -> list[ChatClient]:
            first, second = await tabs_on_two_processes()
            await echo_across(first, second, "Do you ship to Canada?")
            await asyncio.to_thread(redis.restart)  # kill -9 and start again on the same port, empty
            # The layer retries with backoff; once both processes reached Redis again, their
            # sockets are back in their groups and a message crosses again.
            await echo_across(first, second, "How long does shipping take?")
            await first.say("Can I pay with PayPal?")
            # Sockets opened after the restart work across processes too.
            third, fourth = await tabs_on_two_processes()
            await echo_across(third, fourth, "I want to return an item")
            for client in (first, second, third, fourth):
                await client.close()
            return [first, third]

        speakers = asyncio.run(scenario())
        # The sockets open during the restart were never dropped.
        assert [c.connections for c in speakers] == [1, 1]
        for client in speakers:
            assert_delivered_exactly_once(stack, client)


def test_a_worker_killed_during_a_retrain_marks_the_run_failed_and_the_active_model_keeps_serving(
    database_url, redis
):
    base = Path(os.environ.get("BASE_MODEL_DIR", ROOT / "training" / "base_model"))
    if not base.is_dir() or not any(base.iterdir()):
        pytest.skip(f"no pretrained base model at {base} (produced by `manage.py pretrain`)")
    with Stack(1, redis_url=redis.url, celery=True, env=STACK_ENV) as stack:
        first = json.loads(stack.manage("retrain", "--json", timeout=300).stdout.strip().splitlines()[-1])
        assert first["status"] == "published", first
        active = first["version"]

        run = json.loads(stack.manage("retrain", "--async", "--json").stdout.strip().splitlines()[-1])["run"]
        deadline = time.monotonic() + 120
        status = "queued"
        while status != "running":
            assert time.monotonic() < deadline, f"run {run} never started ({status})"
            assert status in ("queued", "running"), f"run {run} ended as {status} before it could be killed"
            time.sleep(0.05)
            status = stack.sql("SELECT status FROM training_trainingrun WHERE id = %s", [run])[0][0]
        stack.kill("celery")  # SIGKILL to the worker and its pool child, like a lost machine

        reaped = stack.shell("from training.pipeline import reap_dead_runs; print('REAPED', reap_dead_runs())")
        assert "REAPED 1" in reaped
        status, error = stack.sql("SELECT status, error FROM training_trainingrun WHERE id = %s", [run])[0]
        assert status == "failed" and error

        versions = json.loads(stack.manage("model_versions", "--json").stdout.strip().splitlines()[-1])["versions"]
        assert [v["version"] for v in versions if v["active"]] == [active]

        async def chat() -> dict:
            client = ChatClient(lambda: stack.ws_url(0), timeout=60)
            answer = await client.say("Where is my order?")
            await client.close()
            return answer

        assert asyncio.run(chat())["model_version"] == active
