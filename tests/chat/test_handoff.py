"""The reply policy's branches and a live handoff to a staff agent, through both sockets."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Conversation, Message
from knowledge.models import Ticket
from tests.conftest import chat_communicator, receive_reply
from chat import store

pytestmark = [pytest.mark.django_db(transaction=True)]


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def agent_communicator(cookie: bytes | None) -> WebsocketCommunicator:
    from config.asgi import application

    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/agent/", headers=headers)


async def next_of(ws: WebsocketCommunicator, kind: str, **match) -> dict:
    while True:
        frame = await ws.receive_json_from(timeout=5)
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


@pytest.fixture
def agent(db):
    return User.objects.create_user("alex", password="pw-for-tests-only", is_staff=True, first_name="Alex")


@pytest.fixture
def past_ticket(db):
    return Ticket.objects.create(
        question="my parcel arrived crushed", resolution="We send a free replacement the same day.",
        status=Ticket.Status.APPROVED,
    )


async def say(ws, text, client_id):
    await ws.send_json_to({"type": "message", "client_id": client_id, "text": text})
    return await receive_reply(ws)


async def test_the_console_is_told_the_message_limit_in_its_first_frame(agent, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 12
    console = agent_communicator(await database_sync_to_async(session_cookie)(agent))
    connected, _ = await console.connect()
    assert connected
    first = await console.receive_json_from(timeout=5)
    assert first["type"] == "queue"
    assert first["limits"]["max_message_chars"] == 12
    await console.disconnect()


async def test_the_full_handoff_scenario(site, fake_bundle, refund_intent, past_ticket, agent):
    fake_bundle.intents["how do refunds work"] = ("refund", 0.92, None)
    fake_bundle.tickets["the box came smashed"] = past_ticket.pk
    customer = chat_communicator()
    await customer.connect()
    hello = await customer.receive_json_from()

    answer = await say(customer, "How do refunds work", "s1")
    assert (answer["source"], answer["intent"], answer["text"]) == ("answer", "refund", refund_intent.answer)

    from_ticket = await say(customer, "the box came smashed", "s2")
    assert from_ticket["source"] == "ticket"
    assert past_ticket.resolution in from_ticket["text"]

    fallback = await say(customer, "zxqv blorp", "s3")
    assert fallback["source"] == "fallback" and "Talk to a person" in fallback["suggestions"]

    await customer.send_json_to({"type": "message", "client_id": "s4", "text": "I want to talk to a person"})
    status = await next_of(customer, "status")
    assert status["status"] == "waiting"
    notice = await receive_reply(customer)
    assert notice["sender"] == "system"
    conversation = await database_sync_to_async(Conversation.objects.get)(public_id=hello["id"])
    assert conversation.status == "waiting"

    console = agent_communicator(await database_sync_to_async(session_cookie)(agent))
    connected, _ = await console.connect()
    assert connected
    queue = await next_of(console, "queue")
    assert queue["conversations"][0]["id"] == hello["id"]
    assert queue["conversations"][0]["status"] == "waiting"
    assert "refund" in queue["conversations"][0]["intents"]

    await console.send_json_to({"type": "join", "conversation": hello["id"]})
    history = await next_of(console, "history")
    assert [m["seq"] for m in history["messages"]] == list(range(1, len(history["messages"]) + 1))
    assert (await next_of(customer, "status"))["status"] == "human"
    joined = await receive_reply(customer)
    assert joined["sender"] == "system" and "Alex joined" in joined["text"]

    await console.send_json_to({"type": "message", "conversation": hello["id"], "text": "Hi, I'm Alex. How can I help?"})
    from_agent = await receive_reply(customer)
    assert from_agent["sender"] == "agent" and from_agent["text"] == "Hi, I'm Alex. How can I help?"

    await customer.send_json_to({"type": "message", "client_id": "s5", "text": "How do refunds work"})
    assert (await customer.receive_json_from())["type"] == "ack"
    relayed = await next_of(console, "message", client_id="s5")
    assert relayed["sender"] == "customer" and relayed["conversation"] == hello["id"]
    assert await customer.receive_nothing(timeout=0.5), "the bot must stay silent while a human owns the chat"
    assert not await database_sync_to_async(Message.objects.filter(sender="bot", seq__gt=relayed["seq"]).exists)()

    await console.send_json_to({"type": "close", "conversation": hello["id"], "resolution": "Explained the refund timeline."})
    assert (await next_of(customer, "status"))["status"] == "closed"
    proposal = await database_sync_to_async(Ticket.objects.get)(status="proposed")
    assert proposal.resolution == "Explained the refund timeline."
    assert "How do refunds work" in proposal.question
    await customer.disconnect()
    await console.disconnect()


async def test_a_non_staff_session_cannot_open_the_agent_socket(db):
    customer_user = await database_sync_to_async(User.objects.create_user)("pat", password="pw-for-tests-only")
    ws = agent_communicator(await database_sync_to_async(session_cookie)(customer_user))
    connected, code = await ws.connect()
    assert not connected
    anonymous = agent_communicator(None)
    connected, _ = await anonymous.connect()
    assert not connected


async def test_an_agent_from_another_origin_is_refused(agent):
    from config.asgi import application

    cookie = await database_sync_to_async(session_cookie)(agent)
    ws = WebsocketCommunicator(application, "/ws/agent/", headers=[
        (b"host", b"testserver"), (b"origin", b"https://evil.example.net"), (b"cookie", cookie)])
    connected, _ = await ws.connect()
    assert not connected


async def test_a_disconnected_agent_puts_the_chat_back_in_the_queue(site, fake_bundle, agent):
    customer = chat_communicator()
    await customer.connect()
    hello = await customer.receive_json_from()
    await customer.send_json_to({"type": "handoff"})
    await next_of(customer, "status", status="waiting")
    console = agent_communicator(await database_sync_to_async(session_cookie)(agent))
    await console.connect()
    await console.send_json_to({"type": "join", "conversation": hello["id"]})
    await next_of(customer, "status", status="human")
    await console.disconnect()
    await next_of(customer, "status", status="waiting")
    notice = await receive_reply(customer)
    assert "back in the queue" in notice["text"]
    conversation = await database_sync_to_async(Conversation.objects.get)(public_id=hello["id"])
    assert conversation.status == "waiting" and conversation.agent_id is None


async def test_released_chats_are_answered_by_the_bot_again(site, fake_bundle, refund_intent, agent):
    fake_bundle.intents["refund please"] = ("refund", 0.9, None)
    customer = chat_communicator()
    await customer.connect()
    hello = await customer.receive_json_from()
    console = agent_communicator(await database_sync_to_async(session_cookie)(agent))
    await console.connect()
    await console.send_json_to({"type": "join", "conversation": hello["id"]})
    await next_of(customer, "status", status="human")
    await console.send_json_to({"type": "release", "conversation": hello["id"]})
    await next_of(customer, "status", status="bot")
    reply = await say(customer, "refund please", "r1")
    assert reply["sender"] == "system" or reply["source"] == "answer"
    if reply["sender"] == "system":
        assert (await receive_reply(customer))["source"] == "answer"
    await console.disconnect()
    await customer.disconnect()


async def test_no_agent_online_offers_to_leave_an_email(site, fake_bundle):
    customer = chat_communicator()
    await customer.connect()
    await customer.receive_json_from()
    await customer.send_json_to({"type": "handoff"})
    status = await next_of(customer, "status")
    assert status == {"type": "status", "status": "waiting", "offer_email": True}
    notice = await receive_reply(customer)
    assert "No agent is online" in notice["text"]
    await customer.send_json_to({"type": "email", "email": "not an email"})
    assert (await customer.receive_json_from())["code"] == "invalid_email"
    await customer.send_json_to({"type": "email", "email": "pat@example.com"})
    assert await next_of(customer, "email") == {"type": "email", "saved": True}
    await customer.disconnect()


async def test_did_you_mean_offers_close_intents_and_a_button_choice_answers(site, fake_bundle, refund_intent):
    from knowledge.models import Intent

    await database_sync_to_async(Intent.objects.create)(
        name="order_status", description="Track my order", answer="Track it under Orders.")
    fake_bundle.intents["my order money"] = ("refund", 0.41, [("refund", 0.41), ("order_status", 0.38)])
    customer = chat_communicator()
    await customer.connect()
    await customer.receive_json_from()
    clarify = await say(customer, "my order money", "d1")
    assert clarify["source"] == "clarify"
    assert clarify["suggestions"][:2] == ["Get a refund", "Track my order"]
    chosen = await say(customer, "Track my order", "d2")
    assert (chosen["source"], chosen["intent"]) == ("answer", "order_status")
    await customer.disconnect()


def test_the_agent_queue_shows_each_chats_intents_lowest_confidence_and_last_text(site, django_assert_max_num_queries):
    from chat import conversations, handoff

    def chat(answers, last):
        pk = conversations.open_conversation(site, None)[0].pk
        for i, (intent, confidence) in enumerate(answers):
            store.append(pk, "customer", f"question {i}", client_id=f"q{i}")
            store.append(pk, "bot", "answer", intent=intent, confidence=confidence)
        store.append(pk, "customer", last, client_id="last")
        return pk

    chats = [chat([("refund", 0.9), ("refund", 0.4), ("", None), ("order_status", 0.7)], f"still there {n}?")
             for n in range(5)]
    handoff.request(chats[0], "customer asked")
    with django_assert_max_num_queries(3):  # the same for 5 chats or 100
        rows = handoff.queue()
    assert rows[0]["id"] == str(Conversation.objects.get(pk=chats[0]).public_id)
    assert rows[0]["status"] == "waiting"
    for row in rows:
        assert row["intents"] == ["order_status", "refund"]
        assert row["confidence"] == 0.4
    # The customer's last message, not the system notice that followed it.
    assert {row["last_text"] for row in rows} == {f"still there {n}?" for n in range(5)}
