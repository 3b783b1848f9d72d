"""Agents see who they talk to, a queue of chats that need them, and tickets that hold one question."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from chat import conversations, handoff
from chat.models import Conversation
from knowledge.models import Ticket
from tests.conftest import chat_communicator
from tests.chat.test_handoff import agent_communicator, next_of, say, session_cookie
from chat import store

pytestmark = [pytest.mark.django_db(transaction=True)]


def chat(site, *texts, page="", previous=None, status=None):
    conversation = conversations.open_conversation(site, None, page=page, previous=previous)[0]
    for n, text in enumerate(texts):
        store.append(conversation.pk, "customer", text, client_id=f"m{n}")
        store.append(conversation.pk, "bot", "<b>Sure</b>, here you go.", source="answer")
    if status:
        Conversation.objects.filter(pk=conversation.pk).update(status=status)
    return Conversation.objects.select_related("visitor").get(pk=conversation.pk)


def test_the_queue_hides_chats_where_the_customer_never_wrote_and_lists_waiting_and_human_first(site):
    chat(site)  # opened, never written in
    bot = chat(site, "what are your opening hours?")
    offline = chat(site, "call me back please", status="offline")
    human = chat(site, "my parcel is late", status="human")
    waiting = chat(site, "I was charged twice")
    handoff.request(waiting.pk, "customer asked")
    rows = handoff.queue()
    assert [row["id"] for row in rows] == [str(c.public_id) for c in (waiting, human, offline, bot)]
    assert rows[0]["last_text"] == "I was charged twice"  # the customer's question, not the notice after it


def test_queue_rows_and_the_customer_card_say_who_the_customer_is_and_where_they_chat(site):
    first = chat(site, "do you ship to Norway?", page="https://shop.example.com/shipping")
    first.visitor.email, first.visitor.name = "kim@example.com", "Kim"
    first.visitor.save()
    second = chat(site, "where is my order 1234?", page="https://shop.example.com/orders", previous=first.token)
    [row] = [r for r in handoff.queue() if r["id"] == str(second.public_id)]
    assert (row["email"], row["name"], row["page"]) == ("kim@example.com", "Kim", "https://shop.example.com/orders")
    card = handoff.customer_card(second.pk)
    assert (card["email"], card["page"]) == ("kim@example.com", "https://shop.example.com/orders")
    assert [(e["id"], e["text"]) for e in card["earlier"]] == [(str(first.public_id), "do you ship to Norway?")]


def test_earlier_conversations_are_found_by_the_email_the_customer_left(site):
    before = chat(site, "my voucher does not work")
    before.visitor.email = "Pat@Example.com"
    before.visitor.save()
    now = chat(site, "hello again")
    now.visitor.email = "pat@example.com"
    now.visitor.save()
    assert [e["id"] for e in handoff.customer_card(now.pk)["earlier"]] == [str(before.public_id)]


def test_a_page_that_is_not_a_web_address_is_not_kept(site):
    assert chat(site, "hi", page="javascript:alert(1)").page == ""


def test_the_proposed_question_is_the_customers_actual_question_redacted(site):
    conversation = chat(site, "hello? is anyone there?", "I want to talk to a real human",
                        "my card 4111 1111 1111 1111 was charged twice for order 1234", "this is useless")
    question = handoff.proposed_question(conversation.pk)
    assert question.startswith("my card") and "was charged twice for order 1234" in question
    assert "4111" not in question and "human" not in question and "useless" not in question


async def test_closing_proposes_the_edited_question_and_the_resolution_never_the_transcript(site, fake_bundle):
    agent = await database_sync_to_async(User.objects.create_user)("kai", password="pw-for-tests-only", is_staff=True)
    customer = chat_communicator("test-site", query="page=https%3A%2F%2Fshop.example.com%2Fcheckout")
    await customer.connect()
    hello = await customer.receive_json_from()
    await say(customer, "my discount code SPRING10 is refused at checkout", "q1")
    await say(customer, "you are useless", "q2")
    console = agent_communicator(await database_sync_to_async(session_cookie)(agent))
    await console.connect()
    await console.send_json_to({"type": "open", "conversation": hello["id"]})
    history = await next_of(console, "history")
    assert history["customer"]["page"] == "https://shop.example.com/checkout"
    assert history["customer"]["question"] == "my discount code SPRING10 is refused at checkout"
    await console.send_json_to({"type": "close", "conversation": hello["id"], "resolution": "Code expired; gave NEW10.",
                                "question": "My discount code is refused at checkout"})
    await next_of(customer, "status", status="closed")
    ticket = await database_sync_to_async(Ticket.objects.get)(status="proposed")
    assert (ticket.question, ticket.resolution) == ("My discount code is refused at checkout", "Code expired; gave NEW10.")
    await console.disconnect()
    await customer.disconnect()
