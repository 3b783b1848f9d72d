"""Degraded service: Redis or PostgreSQL unreachable.

Redis away: a chat still opens and is answered on its own web process. PostgreSQL away: the
customer gets an error frame and no ack for a message that was not stored, a chat that cannot
open is refused with a readable frame and leaves nothing behind, and everything works again
once the database is back.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers

from chat.models import Conversation, Message, Visitor
from tests.conftest import chat_communicator, need_postgres, need_redis_server, receive_reply
from tests.proxy import Proxy
from tests.stack import ChatClient, RedisServer, Stack, free_port


@pytest.mark.django_db(transaction=True)
async def test_a_chat_opens_and_is_answered_while_redis_is_unreachable(site, fake_bundle, refund_intent, settings):
    from config.settings import redis_channel_layer

    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = unreachable  # the shared limits, too
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(unreachable)}
    channel_layers.backends.clear()
    fake_bundle.intents["i want a refund"] = ("refund", 0.95, None)
    ws = chat_communicator()
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "conversation"
    await ws.send_json_to({"type": "message", "client_id": "no-redis-1", "text": "I want a refund"})
    assert (await ws.receive_json_from())["type"] == "ack"
    reply = await receive_reply(ws)
    assert reply["text"] == "Refunds take 5 business days."
    await ws.disconnect()
    counts = await database_sync_to_async(lambda: (Conversation.objects.count(), Message.objects.count()))()
    assert counts == (1, 2)


@pytest.mark.services
def test_while_postgresql_is_unreachable_nothing_is_acked_unstored_and_the_chat_recovers():
    parts = urlsplit(need_postgres())
    with Proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        through_proxy = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}"
                                                  f"{':' + parts.password if parts.password else ''}"
                                                  f"@127.0.0.1:{proxy.port}"))
        env = {"CHAT_ANSWER_PROCESSES": "1", "DB_CONN_MAX_AGE": "60"}
        with Stack(1, database_url=through_proxy, env=env) as stack:

            async def scenario() -> tuple[ChatClient, list[dict], dict]:
                from websockets.asyncio.client import connect

                client = ChatClient(lambda: stack.ws_url(0), timeout=60)
                await client.say("Where is my order?")
                proxy.cut()
                # A message sent now is refused with a readable frame and not acknowledged.
                await client.ws.send(json.dumps({"type": "message", "client_id": "while-down", "text": "Hello?"}))
                refused = []
                while not refused:
                    frame = await client._recv(30)
                    assert frame["type"] != "ack", f"acknowledged while the database was away: {frame}"
                    if frame["type"] == "error":
                        refused.append(frame)
                # A chat that cannot open says why and closes with "try again later".
                async with connect(stack.ws_url(0), open_timeout=10) as ws:
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    await asyncio.wait_for(ws.wait_closed(), 30)
                    close = ws.close_code
                proxy.restore()
                # The same message, sent again after the database is back, is stored and answered once.
                client.sent.append("while-down")
                client.texts["while-down"] = "Hello?"
                deadline = time.monotonic() + 60
                while "while-down" not in client.answered:
                    assert time.monotonic() < deadline, "the chat did not recover"
                    await client.ws.send(json.dumps({"type": "message", "client_id": "while-down", "text": "Hello?"}))
                    while True:
                        frame = await client._recv(30)
                        client._note(frame)
                        if frame["type"] == "error" or "while-down" in client.answered:
                            break
                await client.say("How long does shipping take?")
                await client.close()
                return client, refused, {"hello": hello, "close": close}

            client, refused, fresh = asyncio.run(scenario())
            assert refused[0]["code"] == "unavailable" and refused[0]["client_id"] == "while-down"
            assert fresh["hello"]["type"] == "error" and fresh["hello"]["code"] == "unavailable"
            assert fresh["close"] == 4503
            rows = stack.sql("SELECT client_id FROM chat_message WHERE sender = 'customer' ORDER BY seq")
            assert [cid for cid, in rows] == client.sent, "lost or duplicated"
            assert stack.sql("SELECT COUNT(*) FROM chat_conversation")[0][0] == 1, "a conversation was left behind"


@pytest.mark.django_db(transaction=True)
async def test_a_chat_that_fails_to_open_leaves_no_conversation_behind(site, fake_bundle, settings):
    from chat import consumers

    ws = chat_communicator(query="after=0")
    original = consumers.conversations.history

    def history_unavailable(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("the database went away")

    consumers.conversations.history = history_unavailable
    try:
        await ws.connect()
        frame = await ws.receive_json_from()
        if frame["type"] == "conversation":  # it failed after saying hello: the error follows
            frame = await ws.receive_json_from()
        closed = await ws.receive_output()
    finally:
        consumers.conversations.history = original
    assert frame["code"] == "unavailable" and closed["code"] == 4503
    counts = await database_sync_to_async(lambda: (Conversation.objects.count(), Visitor.objects.count()))()
    assert counts == (0, 0)


@pytest.mark.services
def test_a_chat_opened_while_redis_is_down_is_heard_on_other_processes_once_redis_is_back():
    from chat.layers import MAX_RETRY_DELAY

    need_postgres()
    need_redis_server()
    env = {"CHAT_RATE_PER_MINUTE": "10000", "CHAT_RATE_PER_IP_PER_MINUTE": "100000"}
    with RedisServer() as redis, Stack(2, redis_url=redis.url, env=env) as stack:

        async def scenario() -> tuple[ChatClient, dict]:
            redis.stop()
            first = ChatClient(lambda: stack.ws_url(0), timeout=30)
            await first.say("Where is my order?")  # opened and answered on its own process
            second = ChatClient(lambda: stack.ws_url(1), timeout=30)  # another tab, another process
            second.token = first.token
            await second.open()
            redis.start()
            # Both processes find Redis again (backoff up to MAX_RETRY_DELAY), join the
            # conversation's group and say hello in it: from then on the tabs hear each other.
            deadline = time.monotonic() + MAX_RETRY_DELAY + 30
            while True:
                assert time.monotonic() < deadline, "the tabs opened during the outage never heard each other"
                await first.say("How long does shipping take?")
                try:
                    while True:
                        frame = await second._recv(2)
                        if frame.get("type") == "message" and frame.get("client_id") == first.sent[-1]:
                            return first, frame
                except TimeoutError:
                    pass

        first, echoed = asyncio.run(scenario())
        assert echoed["text"].startswith("How long does shipping take?")
        stored = stack.sql("SELECT client_id FROM chat_message WHERE sender = 'customer' ORDER BY seq")
        assert [cid for cid, in stored] == first.sent
        assert stack.sql("SELECT COUNT(*) FROM chat_conversation")[0][0] == 1
