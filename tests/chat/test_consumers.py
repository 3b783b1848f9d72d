"""The customer websocket: handshake, ack after commit, replies, resume, de-duplication, bad frames."""

import json

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Message
from tests.conftest import chat_communicator, new_client_id, receive_reply, receive_until, until_tabs_know_each_other

pytestmark = [pytest.mark.django_db(transaction=True)]


async def connect(communicator):
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from()
    assert hello["type"] == "conversation"
    return hello


async def test_it_opens_a_conversation_with_id_token_and_status(site, fake_bundle):
    ws = chat_communicator()
    hello = await connect(ws)
    assert hello["status"] == "bot"
    assert hello["greeting"] == "Hello from the test shop"
    assert hello["protocol"] == 1
    conversation = await database_sync_to_async(Conversation.objects.get)(public_id=hello["id"])
    assert conversation.token == hello["token"]
    await ws.disconnect()


async def test_a_message_is_acked_with_its_seq_then_answered(site, fake_bundle, refund_intent):
    fake_bundle.intents["i want my money back"] = ("refund", 0.9, None)
    ws = chat_communicator()
    await connect(ws)
    client_id = new_client_id()
    await ws.send_json_to({"type": "message", "client_id": client_id, "text": "I want my money back"})
    ack = await ws.receive_json_from()
    assert ack == {"type": "ack", "client_id": client_id, "seq": 1}
    stored = await database_sync_to_async(Message.objects.get)(client_id=client_id)
    assert stored.text == "I want my money back" and stored.sender == "customer"
    reply = await receive_reply(ws)
    assert reply["seq"] == 2
    assert reply["sender"] == "bot"
    assert reply["text"] == "Refunds take 5 business days."
    assert reply["source"] == "answer" and reply["intent"] == "refund"
    assert reply["model_version"] == "fake-1"
    await ws.disconnect()


async def test_an_unknown_message_gets_the_fallback_offering_a_person(site, fake_bundle):
    ws = chat_communicator()
    await connect(ws)
    await ws.send_json_to({"type": "message", "client_id": new_client_id(), "text": "qwpoeiruty"})
    reply = await receive_reply(ws)
    assert reply["source"] == "fallback"
    assert "Talk to a person" in reply["suggestions"]
    await ws.disconnect()


async def test_a_resent_client_id_is_acked_again_with_the_same_seq_and_stored_once(site, fake_bundle):
    ws = chat_communicator()
    await connect(ws)
    frame = {"type": "message", "client_id": "abc-123", "text": "hello there"}
    await ws.send_json_to(frame)
    first = await ws.receive_json_from()
    await receive_reply(ws)
    await ws.send_json_to(frame)
    again = await ws.receive_json_from()
    assert again == first
    assert await ws.receive_nothing(timeout=0.3)
    count = await database_sync_to_async(Message.objects.filter(client_id="abc-123").count)()
    assert count == 1
    await ws.disconnect()


async def test_resuming_with_the_token_replays_history_in_order(site, fake_bundle):
    ws = chat_communicator()
    hello = await connect(ws)
    for i in range(3):
        await ws.send_json_to({"type": "message", "client_id": f"m{i}", "text": f"message {i}"})
        await receive_reply(ws)
    await ws.send_json_to({"type": "message", "client_id": "m0", "text": "message 0"})  # a resend
    await receive_until(ws, "ack")
    await ws.disconnect()

    again = chat_communicator(query=f"token={hello['token']}")
    resumed = await connect(again)
    assert resumed["id"] == hello["id"]
    replay = [await again.receive_json_from() for _ in range(6)]
    assert [f["seq"] for f in replay] == [1, 2, 3, 4, 5, 6]
    assert [f["sender"] for f in replay] == ["customer", "bot"] * 3
    assert [f.get("client_id") for f in replay[::2]] == ["m0", "m1", "m2"]
    assert await again.receive_nothing(timeout=0.3)
    await again.disconnect()

    after = chat_communicator(query=f"token={hello['token']}&after=4")
    await connect(after)
    assert [(await after.receive_json_from())["seq"] for _ in range(2)] == [5, 6]
    await after.disconnect()


async def test_an_unknown_token_starts_a_new_conversation(site, fake_bundle):
    ws = chat_communicator(query="token=not-a-real-token")
    hello = await connect(ws)
    assert hello["token"] != "not-a-real-token"
    await ws.disconnect()


async def test_concurrent_messages_get_dense_ordered_seqs(site, fake_bundle):
    ws = chat_communicator()
    await connect(ws)
    for i in range(10):
        await ws.send_json_to({"type": "message", "client_id": f"c{i}", "text": f"burst {i}"})
    acks = []
    while len(acks) < 10:
        frame = await ws.receive_json_from()
        if frame["type"] == "ack":
            acks.append(frame)
    seqs = await database_sync_to_async(
        lambda: list(Message.objects.order_by("seq").values_list("seq", flat=True))
    )()
    assert seqs == list(range(1, len(seqs) + 1))
    assert [a["client_id"] for a in acks] == [f"c{i}" for i in range(10)]
    await ws.disconnect()


@pytest.mark.parametrize(
    "raw, code",
    [
        ("this is not json", "bad_json"),
        ("[1, 2, 3]", "bad_frame"),
        (json.dumps({"type": "dance"}), "unknown_type"),
        (json.dumps({"type": "message", "text": "hi"}), "invalid_client_id"),
        (json.dumps({"type": "message", "client_id": "x1"}), "missing_text"),
        (json.dumps({"type": "message", "client_id": "x1", "text": "   "}), "empty_text"),
        (json.dumps({"type": "message", "client_id": "x1", "text": "a" * 2001}), "too_long"),
        (json.dumps({"type": "feedback", "seq": "one", "value": "up"}), "invalid_feedback"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_usable(site, fake_bundle, raw, code):
    ws = chat_communicator()
    await connect(ws)
    await ws.send_to(text_data=raw)
    error = await ws.receive_json_from()
    assert error["type"] == "error" and error["code"] == code and error["detail"]
    await ws.send_json_to({"type": "message", "client_id": "after-error", "text": "still there?"})
    assert (await ws.receive_json_from())["type"] == "ack"
    await ws.disconnect()
    assert await database_sync_to_async(Message.objects.filter(sender="customer").count)() == 1


async def test_binary_frames_are_refused_with_an_error(site, fake_bundle):
    ws = chat_communicator()
    await connect(ws)
    await ws.send_to(bytes_data=b"\x00\x01")
    assert (await ws.receive_json_from())["code"] == "binary_not_supported"
    await ws.disconnect()


async def test_an_unknown_site_key_is_refused_at_the_handshake(site):
    ws = chat_communicator("no-such-site")
    await ws.connect()
    error = await ws.receive_json_from()
    assert error["code"] == "unknown_site"
    assert (await ws.receive_output())["code"] == 4404
    assert await database_sync_to_async(Conversation.objects.count)() == 0


async def test_a_disallowed_origin_is_refused_at_the_handshake(site):
    ws = chat_communicator(origin="https://evil.example.net")
    await ws.connect()
    assert (await ws.receive_json_from())["code"] == "origin_not_allowed"
    assert (await ws.receive_output())["code"] == 4403
    assert await database_sync_to_async(Conversation.objects.count)() == 0


async def test_wildcard_ports_match_allowed_origins(site, fake_bundle):
    ws = chat_communicator(origin="http://localhost:51234")
    await connect(ws)
    await ws.disconnect()


async def test_an_unsupported_protocol_version_is_refused(site):
    ws = chat_communicator(query="v=99")
    await ws.connect()
    assert (await ws.receive_json_from())["code"] == "unsupported_protocol"


async def test_thumbs_are_stored_on_bot_messages(site, fake_bundle):
    ws = chat_communicator()
    await connect(ws)
    await ws.send_json_to({"type": "message", "client_id": "f1", "text": "hmm"})
    reply = await receive_reply(ws)
    await ws.send_json_to({"type": "feedback", "seq": reply["seq"], "value": "down"})
    assert await ws.receive_json_from() == {"type": "feedback", "seq": reply["seq"], "value": "down"}
    message = await database_sync_to_async(Message.objects.get)(seq=reply["seq"])
    assert message.feedback == "down"
    await ws.send_json_to({"type": "feedback", "seq": 1, "value": "up"})  # a customer message
    assert (await ws.receive_json_from())["code"] == "unknown_message"
    await ws.disconnect()


async def test_other_tabs_of_the_conversation_see_messages_with_their_client_id(site, fake_bundle, chat_sockets):
    first = chat_communicator()
    hello = await connect(first)
    second = chat_communicator(query=f"token={hello['token']}")
    await connect(second)
    await until_tabs_know_each_other(chat_sockets)
    await first.send_json_to({"type": "message", "client_id": "tab-1", "text": "from tab one"})
    echoed = await second.receive_json_from()
    assert echoed["type"] == "message" and echoed["client_id"] == "tab-1" and echoed["sender"] == "customer"
    bot = await receive_reply(second)
    assert bot["sender"] == "bot"
    await first.disconnect()
    await second.disconnect()


@pytest.mark.parametrize(
    "raw, code",
    [
        ('{"type": []}', "unknown_type"),
        ("[" * 5000 + "]" * 5000, "bad_json"),
        ('{"type": "message", "client_id": "nul-1", "text": "a\\u0000b"}', "invalid_text"),
        ('{"type": "message", "client_id": "sur-1", "text": "\\ud800"}', "invalid_text"),
    ],
)
async def test_hostile_frames_get_an_error_and_nothing_is_stored(site, fake_bundle, raw, code):
    ws = chat_communicator()
    await connect(ws)
    await ws.send_to(text_data=raw)
    assert (await ws.receive_json_from())["code"] == code
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    await ws.disconnect()
    assert not await database_sync_to_async(Message.objects.exists)()
