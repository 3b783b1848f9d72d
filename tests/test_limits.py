"""Abuse limits: message rate per socket and per address, open chats per address."""

import pytest
from channels.db import database_sync_to_async

from chat.limits import RateLimiter
from chat.models import Message
from tests.conftest import chat_communicator

pytestmark = [pytest.mark.django_db(transaction=True)]


async def open_chat(**kwargs):
    ws = chat_communicator(**kwargs)
    await ws.connect()
    assert (await ws.receive_json_from())["type"] == "conversation"
    return ws


async def test_a_socket_sending_too_fast_is_told_to_wait_and_nothing_is_stored(site, fake_bundle, settings):
    settings.CHAT_RATE_PER_MINUTE = 3  # a burst of 3, then one every 20 s
    ws = await open_chat()
    kinds = []
    for i in range(5):
        await ws.send_json_to({"type": "message", "client_id": f"fast-{i}", "text": f"hello {i}"})
        while True:
            frame = await ws.receive_json_from()
            if frame["type"] in ("ack", "error"):
                kinds.append(frame.get("code", "ack"))
                break
    assert kinds == ["ack", "ack", "ack", "rate_limited", "rate_limited"]
    stored = await database_sync_to_async(
        lambda: sorted(Message.objects.filter(sender="customer").values_list("client_id", flat=True)))()
    assert stored == ["fast-0", "fast-1", "fast-2"]
    await ws.disconnect()


async def test_too_many_chats_from_one_address_are_refused_with_a_close_code(site, fake_bundle, settings):
    settings.CHAT_MAX_CONNECTIONS_PER_IP = 2
    first = await open_chat(client=("203.0.113.9", 1000))
    second = await open_chat(client=("203.0.113.9", 1001))
    third = chat_communicator(client=("203.0.113.9", 1002))
    await third.connect()
    assert (await third.receive_json_from())["code"] == "too_many_connections"
    assert (await third.receive_output())["code"] == 4429
    other_address = await open_chat(client=("198.51.100.7", 1000))
    await first.disconnect()
    again = await open_chat(client=("203.0.113.9", 1003))  # a slot freed up
    for ws in (second, other_address, again):
        await ws.disconnect()


def test_the_bucket_refills_over_time(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("chat.limits.time.monotonic", lambda: now[0])
    bucket = RateLimiter(per_minute=60, burst=2)
    assert bucket.allow() and bucket.allow() and not bucket.allow()
    now[0] += 1.0  # one token a second
    assert bucket.allow() and not bucket.allow()
