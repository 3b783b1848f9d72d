"""Conversations through the API: list and filter, read messages, post as an agent, hand off, close."""

import uuid

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Message, Site, Visitor
from knowledge.models import Ticket
from tests.api_support import api_client, async_post, error_code, key_for
from tests.conftest import chat_communicator, new_client_id, receive_reply, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def conversation(site: Site, status: str = Conversation.Status.BOT, texts: tuple[str, ...] = ()) -> Conversation:
    chat = Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site), status=status)
    for seq, text in enumerate(texts, start=1):
        Message.objects.create(conversation=chat, seq=seq, sender=Message.Sender.CUSTOMER, text=text)
    Conversation.objects.filter(pk=chat.pk).update(last_seq=len(texts))
    return chat


def test_it_lists_only_the_keys_sites_conversations_newest_first(site):
    other = Site.objects.create(public_key="other", name="Other shop")
    older, newer = conversation(site), conversation(site)
    conversation(other)
    body = api_client(key_for(site, "read")).get("/api/v1/conversations/").json()
    assert [c["id"] for c in body["results"]] == [str(newer.public_id), str(older.public_id)]
    assert body["results"][0]["site"] == "test-site"


def test_a_verified_customer_is_named_on_their_conversations(site):
    chat = conversation(site)
    Visitor.objects.filter(pk=chat.visitor_id).update(external_id="u-1042", name="Ada", email="ada@example.com")
    body = api_client(key_for(site, "read")).get(f"/api/v1/conversations/{chat.public_id}/").json()
    assert body["customer"] == {"user_id": "u-1042", "verified": True, "name": "Ada", "email": "ada@example.com"}


def test_it_filters_by_status_and_rejects_a_bad_filter(site):
    waiting = conversation(site, Conversation.Status.WAITING)
    conversation(site)
    client = api_client(key_for(site, "read"))
    body = client.get("/api/v1/conversations/", {"status": "waiting"}).json()
    assert [c["id"] for c in body["results"]] == [str(waiting.public_id)]
    response = client.get("/api/v1/conversations/", {"status": "sleeping", "created_after": "yesterday"})
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert set(response.json()["error"]["fields"]) == {"status", "created_after"}


def test_pages_follow_a_cursor_without_repeats_or_gaps(site):
    made = [conversation(site) for _ in range(5)]
    client = api_client(key_for(site, "read"))
    seen, url = [], "/api/v1/conversations/?limit=2"
    while url:
        body = client.get(url).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert seen == [str(c.public_id) for c in reversed(made)]


def test_it_reads_a_conversations_messages_in_order(site):
    chat = conversation(site, texts=("hello", "where is my parcel"))
    body = api_client(key_for(site, "read")).get(f"/api/v1/conversations/{chat.public_id}/messages/").json()
    assert [(m["seq"], m["sender"], m["text"]) for m in body["results"]] == [
        (1, "customer", "hello"), (2, "customer", "where is my parcel")]


def test_another_sites_conversation_is_not_found(site):
    other = Site.objects.create(public_key="other", name="Other shop")
    chat = conversation(other, texts=("private",))
    client = api_client(key_for(site))
    for path in (f"/api/v1/conversations/{chat.public_id}/", f"/api/v1/conversations/{chat.public_id}/messages/",
                 f"/api/v1/conversations/{uuid.uuid4()}/", "/api/v1/conversations/not-a-uuid/"):
        response = client.get(path)
        assert response.status_code == 404 and error_code(response) == "not_found", path
    assert client.post(f"/api/v1/conversations/{chat.public_id}/close/").status_code == 404


async def test_an_agent_message_posted_through_the_api_reaches_the_customers_socket(site, fake_bundle):
    customer = chat_communicator()
    await customer.connect()
    hello = (await receive_until(customer, "conversation"))[-1]
    secret = await database_sync_to_async(key_for)(site, "read,write")

    response = await async_post(secret, f"/api/v1/conversations/{hello['id']}/messages/",
                                {"text": "Hi, this is Sam from support."})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "human"
    assert [m["sender"] for m in body["messages"]] == ["system", "agent"]

    joined = await receive_reply(customer)
    assert joined["sender"] == "system" and "joined" in joined["text"]
    said = await receive_reply(customer)
    assert said == {**said, "sender": "agent", "text": "Hi, this is Sam from support.", "agent": "tests"}
    # While the person owns the chat the bot stays silent; the customer's words are stored.
    await customer.send_json_to({"type": "message", "client_id": new_client_id(), "text": "thanks!"})
    assert (await receive_until(customer, "ack"))[-1]["type"] == "ack"
    await customer.disconnect()


def test_an_agent_message_names_an_existing_staff_user_or_is_refused(site, django_user_model):
    chat = conversation(site)
    django_user_model.objects.create_user("sam", is_staff=True, first_name="Sam")
    client = api_client(key_for(site, "write,read"))
    url = f"/api/v1/conversations/{chat.public_id}/messages/"
    response = client.post(url, {"text": "hello", "agent": "nobody"}, content_type="application/json")
    assert response.status_code == 400 and "agent" in response.json()["error"]["fields"]
    response = client.post(url, {"text": "hello", "agent": "sam"}, content_type="application/json")
    assert response.json()["messages"][-1]["agent"] == "Sam"
    assert client.post(url, {"text": "  "}, content_type="application/json").status_code == 400


async def test_a_handoff_through_the_api_puts_the_chat_in_the_queue_and_tells_the_customer(site, fake_bundle):
    customer = chat_communicator()
    await customer.connect()
    hello = (await receive_until(customer, "conversation"))[-1]
    secret = await database_sync_to_async(key_for)(site, "write")
    response = await async_post(secret, f"/api/v1/conversations/{hello['id']}/handoff/", {"reason": "VIP customer"})
    assert response.json()["status"] == "waiting"
    status = (await receive_until(customer, "status"))[-1]
    assert status["status"] == "waiting"
    assert (await receive_reply(customer))["sender"] == "system"
    chat = await Conversation.objects.aget(public_id=hello["id"])
    assert chat.handoff_reason == "VIP customer"
    await customer.disconnect()


def test_closing_with_a_resolution_proposes_a_ticket(site):
    chat = conversation(site, texts=("my parcel arrived crushed",))
    response = api_client(key_for(site, "write")).post(
        f"/api/v1/conversations/{chat.public_id}/close/", {"resolution": "Sent a replacement."},
        content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "closed"
    ticket = Ticket.objects.get(conversation_id=chat.pk)
    assert ticket.status == Ticket.Status.PROPOSED and ticket.resolution == "Sent a replacement."
