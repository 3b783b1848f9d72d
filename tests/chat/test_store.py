"""Payment data and typed secrets are replaced before anything is stored, on every path (issue 14, item 1)."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from chat import conversations, handoff
from chat.store import Incoming, Outgoing
from chat.models import Conversation, Message, Site
from tests.conftest import chat_communicator, new_client_id, receive_reply, receive_until
from chat import store

pytestmark = [pytest.mark.django_db(transaction=True)]

CARD_AND_CVV = "my card is 4111 1111 1111 1111 exp 12/27 cvv 123"
IBAN = "refund to NL91-ABNA-0417-1643-00 please"
SECRET = "my password is hunter2"
CONTACTS = "write to pat@example.com or call +44 20 7946 0958"


async def connect(communicator):
    connected, _ = await communicator.connect()
    assert connected
    return await communicator.receive_json_from()


async def test_a_card_an_iban_and_a_password_sent_in_chat_never_come_back_in_the_replayed_history(site, fake_bundle):
    ws = chat_communicator()
    hello = await connect(ws)
    for text in (CARD_AND_CVV, IBAN, SECRET):
        await ws.send_json_to({"type": "message", "client_id": new_client_id(), "text": text})
        await receive_reply(ws)
    await ws.disconnect()

    again = chat_communicator(query=f"token={hello['token']}")
    await connect(again)
    replay = [await again.receive_json_from() for _ in range(6)]
    await again.disconnect()
    customer = [frame["text"] for frame in replay if frame["sender"] == "customer"]
    assert customer == [
        "my card is [CARD] exp 12/27 cvv [CVV]",
        "refund to [IBAN] please",
        "my password is [SECRET]",
    ]
    stored = await database_sync_to_async(lambda: list(Message.objects.values_list("text", flat=True)))()
    for secret in ("4111", "NL91", "ABNA", "hunter2", "cvv 123"):
        assert not any(secret in text for text in stored)


def test_emails_and_phone_numbers_stay_readable_for_agents_by_default(site):
    conversation, _ = conversations.open_conversation(site, None)
    received = store.receive_customer_message(conversation.pk, "c1", CONTACTS)
    assert received.message.text == CONTACTS
    assert Message.objects.get(pk=received.message.pk).text == CONTACTS


def test_a_site_can_redact_emails_and_phone_numbers_at_storage_too(site):
    Site.objects.filter(pk=site.pk).update(redact_contacts=True)
    conversation, _ = conversations.open_conversation(site, None)
    other_site = Site.objects.create(public_key="other", name="Other shop")
    other, _ = conversations.open_conversation(other_site, None)
    results = store.receive_customer_messages(
        [Incoming(conversation.pk, "c1", CONTACTS + ", card 4111111111111111"), Incoming(other.pk, "c2", CONTACTS)]
    )
    assert [r.message.text for r in results] == [
        "write to [EMAIL] or call [PHONE], card [CARD]",
        CONTACTS,
    ]
    assert list(Message.objects.order_by("pk").values_list("text", flat=True)) == [r.message.text for r in results]


def test_agent_and_system_messages_are_redacted_and_the_bots_curated_answers_are_not(site):
    conversation, _ = conversations.open_conversation(site, None)
    agent = User.objects.create_user("sam", is_staff=True)
    reply = handoff.agent_message(conversation.pk, agent, "I see card 4111.1111.1111.1111 on file")
    assert reply.messages[-1].text == "I see card [CARD] on file"
    answer = "Call us on +44 20 7946 0958; account number 12345678 is our shop's."
    bot = store.append_many([Outgoing(conversation.pk, Message.Sender.BOT, answer)])[0]
    assert Message.objects.get(pk=bot.pk).text == answer


def test_the_handoff_reason_and_the_agents_resolution_are_redacted(site):
    conversation, _ = conversations.open_conversation(site, None)
    store.receive_customer_message(conversation.pk, "c1", "help")
    handoff.request(conversation.pk, "card 4111 1111 1111 1111 declined")
    agent = User.objects.create_user("sam", is_staff=True)
    handoff.join(conversation.pk, agent)
    handoff.close(conversation.pk, agent, "refunded to IBAN DE89 3704 0044 0532 0130 00, cvv 123 was wrong")
    conversation = Conversation.objects.get(pk=conversation.pk)
    assert conversation.handoff_reason == "card [CARD] declined"
    assert conversation.resolution == "refunded to IBAN [IBAN], cvv [CVV] was wrong"


async def test_a_handoff_frames_reason_is_stored_without_its_card_number(site, fake_bundle):
    ws = chat_communicator()
    await connect(ws)
    await ws.send_json_to({"type": "handoff", "reason": "my card 4111111111111111 was charged twice"})
    await receive_until(ws, "status")
    stored = await database_sync_to_async(
        lambda: Conversation.objects.values_list("handoff_reason", flat=True).get()
    )()
    assert stored == "my card [CARD] was charged twice"
    await ws.disconnect()
