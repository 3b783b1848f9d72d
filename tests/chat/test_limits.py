"""Abuse limits: message rates per conversation and per address, open chats per address.

With Redis every web process counts against the same budgets; without it (or while Redis is
unreachable) each process keeps its own.
"""

import asyncio
import time
import uuid

import pytest
from channels.db import database_sync_to_async

from chat import limits as limits_module
from chat.limits import Limits
from chat.models import Message
from tests.conftest import chat_communicator, need_redis
from tests.stack import free_port


async def open_chat(**kwargs):
    ws = chat_communicator(**kwargs)
    await ws.connect()
    hello = await ws.receive_json_from()
    assert hello["type"] == "conversation"
    return ws, hello


async def send(ws, client_id: str) -> str:
    await ws.send_json_to({"type": "message", "client_id": client_id, "text": f"hello {client_id}"})
    while True:
        frame = await ws.receive_json_from()
        if frame["type"] in ("ack", "error"):
            return frame.get("code", "ack")


@pytest.mark.django_db(transaction=True)
async def test_a_chat_sending_too_fast_is_told_to_wait_and_nothing_is_stored(site, fake_bundle, settings):
    settings.CHAT_RATE_PER_MINUTE = 3
    ws, _ = await open_chat()
    kinds = [await send(ws, f"fast-{i}") for i in range(5)]
    assert kinds == ["ack", "ack", "ack", "rate_limited", "rate_limited"]
    stored = await database_sync_to_async(
        lambda: sorted(Message.objects.filter(sender="customer").values_list("client_id", flat=True)))()
    assert stored == ["fast-0", "fast-1", "fast-2"]
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_reconnecting_does_not_reset_a_chats_rate_limit(site, fake_bundle, settings):
    settings.CHAT_RATE_PER_MINUTE = 2
    ws, hello = await open_chat()
    assert [await send(ws, f"a-{i}") for i in range(2)] == ["ack", "ack"]
    await ws.disconnect()
    again, _ = await open_chat(query=f"token={hello['token']}")
    assert await send(again, "a-2") == "rate_limited"
    await again.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_too_many_chats_from_one_address_are_refused_with_a_close_code(site, fake_bundle, settings):
    settings.CHAT_MAX_CONNECTIONS_PER_IP = 2
    first, _ = await open_chat(client=("203.0.113.9", 1000))
    second, _ = await open_chat(client=("203.0.113.9", 1001))
    third = chat_communicator(client=("203.0.113.9", 1002))
    await third.connect()
    assert (await third.receive_json_from())["code"] == "too_many_connections"
    assert (await third.receive_output())["code"] == 4429
    other_address, _ = await open_chat(client=("198.51.100.7", 1000))
    await first.disconnect()
    again, _ = await open_chat(client=("203.0.113.9", 1003))  # a slot freed up
    for ws in (second, other_address, again):
        await ws.disconnect()


# Shared through Redis: two Limits objects with the same keys stand for two web processes.


@pytest.fixture
def redis_url(settings):
    url = need_redis()
    settings.REDIS_URL = url
    return url


def two_processes() -> tuple[Limits, Limits]:
    prefix = f"test-limits-{uuid.uuid4().hex}"
    return Limits(prefix), Limits(prefix)


@pytest.mark.services
async def test_two_processes_share_one_connection_budget_per_address(redis_url, settings):
    a, b = two_processes()
    first = await a.connect("203.0.113.9", 2)
    second = await b.connect("203.0.113.9", 2)
    assert first and second and first.shared and second.shared
    assert await a.connect("203.0.113.9", 2) is None
    assert await b.connect("203.0.113.9", 2) is None
    assert await a.connect("198.51.100.7", 2) is not None
    await b.disconnect(second)
    assert await a.connect("203.0.113.9", 2) is not None


@pytest.mark.services
async def test_two_processes_share_one_message_rate(redis_url, settings):
    settings.CHAT_RATE_PER_MINUTE = 100
    settings.CHAT_RATE_PER_IP_PER_MINUTE = 3
    a, b = two_processes()
    allowed = [await a.allow_message("conv-1", "203.0.113.9"), await b.allow_message("conv-2", "203.0.113.9"),
               await a.allow_message("conv-3", "203.0.113.9"), await b.allow_message("conv-4", "203.0.113.9")]
    assert allowed == [True, True, True, False]
    settings.CHAT_RATE_PER_MINUTE = 1
    assert await a.allow_message("conv-5", "198.51.100.7") is True
    assert await b.allow_message("conv-5", "192.0.2.1") is False  # the same chat on another process


@pytest.mark.services
async def test_a_burst_from_hundreds_of_sockets_is_counted_in_redis_exactly(redis_url, settings):
    settings.CHAT_RATE_PER_MINUTE = 100
    settings.CHAT_RATE_PER_IP_PER_MINUTE = 250
    a, b = two_processes()
    allowed = await asyncio.gather(*(a.allow_message(f"conv-{i}", "203.0.113.9") for i in range(300)))
    assert allowed == [True] * 250 + [False] * 50  # in arrival order, none counted twice or lost
    assert a.shared() is not None  # still counting in Redis, not in the process
    assert await b.allow_message("conv-other", "203.0.113.9") is False


@pytest.mark.services
async def test_a_message_refused_by_one_budget_spends_nothing_from_the_other(redis_url, settings):
    settings.CHAT_RATE_PER_MINUTE = 1
    settings.CHAT_RATE_PER_IP_PER_MINUTE = 2
    a, b = two_processes()
    assert await a.allow_message("conv-1", "203.0.113.9") is True
    assert await b.allow_message("conv-1", "203.0.113.9") is False  # the chat's budget is spent
    assert await a.allow_message("conv-2", "203.0.113.9") is True  # so the address still had one


@pytest.mark.services
async def test_the_connections_of_a_process_that_died_stop_counting(redis_url, settings, monkeypatch):
    monkeypatch.setattr(limits_module, "CONNECTION_TTL", 0.5)
    dead, alive = two_processes()
    assert await dead.connect("203.0.113.9", 1) is not None  # never disconnected, never refreshed
    deadline = time.monotonic() + 10
    while await alive.connect("203.0.113.9", 1) is None:
        assert time.monotonic() < deadline, "the dead process's connection still counts"
        await asyncio.sleep(0.05)


async def test_limits_count_in_the_process_while_redis_is_unreachable(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.CHAT_RATE_PER_MINUTE = 2
    budgets = Limits(f"test-limits-{uuid.uuid4().hex}")
    ticket = await budgets.connect("203.0.113.9", 1)
    assert ticket is not None and not ticket.shared
    assert await budgets.connect("203.0.113.9", 1) is None
    assert [await budgets.allow_message("conv-1", "203.0.113.9") for _ in range(3)] == [True, True, False]
    assert await budgets.allow_message("conv-2", "203.0.113.9") is True  # the refused one spent nothing
    await budgets.disconnect(ticket)
    assert await budgets.connect("203.0.113.9", 1) is not None


@pytest.mark.django_db(transaction=True)
async def test_the_first_frame_advertises_the_message_limit_that_the_server_enforces(site, fake_bundle, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 12
    settings.CHAT_MAX_FRAME_BYTES = 900
    settings.CHAT_RATE_PER_MINUTE = 7
    ws = chat_communicator()
    await ws.connect()
    hello = await ws.receive_json_from()
    assert hello["limits"] == {"max_message_chars": 12, "max_frame_bytes": 900, "rate_per_minute": 7}

    await ws.send_json_to({"type": "message", "client_id": "at-limit", "text": "x" * 12})
    assert (await ws.receive_json_from())["type"] == "ack"
    await ws.send_json_to({"type": "message", "client_id": "over-limit", "text": "x" * 13})
    while (frame := await ws.receive_json_from())["type"] != "error":
        pass
    assert (frame["code"], frame["client_id"]) == ("too_long", "over-limit")
    await ws.disconnect()
