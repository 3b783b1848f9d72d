"""The team hears of offline messages and of emails customers leave; customers get their transcript.

Mail goes through Django's SMTP backend to a real local SMTP server (aiosmtpd).
"""

import pytest
from channels.db import database_sync_to_async

from chat import conversations, handoff, mail
from chat.models import Conversation
from tests.conftest import chat_communicator
from tests.chat.test_handoff import next_of, say
from chat import store

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team_site(site):
    site.team_email = "team@shop.example.com"
    site.save()
    return site


def chat_with(site, *texts, page="https://shop.example.com/returns"):
    conversation = conversations.open_conversation(site, None, page=page)[0]
    for n, text in enumerate(texts):
        store.append(conversation.pk, "customer", text, client_id=f"c{n}")
        store.append(conversation.pk, "bot", "<b>Refunds</b> take 5 days.", source="answer")
    return conversation


def test_an_offline_message_reaches_the_team_with_the_question_the_page_and_the_chat(team_site, smtp_server, settings):
    settings.CHAT_PUBLIC_URL = "https://chat.shop.example.com"
    conversation = chat_with(team_site, "where is my refund?")
    assert mail.notify_team(conversation.pk, mail.OFFLINE)
    [sent] = smtp_server.wait_for(1)
    assert sent["To"] == "team@shop.example.com"
    assert sent["Subject"] == "Offline message on Test shop: where is my refund?"
    body = sent.get_content()
    assert "Page: https://shop.example.com/returns" in body
    assert f"https://chat.shop.example.com/agent/#{conversation.public_id}" in body
    assert "You: where is my refund?" in body
    assert "Assistant: Refunds take 5 days." in body  # answers as text, not markup


def test_a_site_without_a_team_address_sends_nothing(site, smtp_server):
    conversation = chat_with(site, "hello")
    assert not mail.notify_team(conversation.pk, mail.OFFLINE)
    assert smtp_server.messages == []


def test_leaving_an_email_tells_the_team_once_with_a_reply_to(team_site, smtp_server, eager_tasks):
    conversation = chat_with(team_site, "I need help with my order")
    handoff.request(conversation.pk, "customer asked")
    assert handoff.leave_email(conversation.pk, "pat@example.com") is not None
    assert handoff.leave_email(conversation.pk, "pat@example.com") is not None  # the same again: no second mail
    [sent] = smtp_server.wait_for(1)
    assert sent["Subject"] == "pat@example.com left their email on Test shop"
    assert sent["Reply-To"] == "pat@example.com"
    assert "I need help with my order" in sent.get_content()
    assert len(smtp_server.messages) == 1


def test_a_chat_that_becomes_an_offline_message_tells_the_team(team_site, smtp_server, eager_tasks, settings):
    settings.CHAT_OFFLINE_AFTER_SECONDS = 1
    conversation = chat_with(team_site, "can someone call me back?")
    handoff.request(conversation.pk, "customer asked")
    Conversation.objects.filter(pk=conversation.pk).update(waiting_since=conversation.created.replace(year=2025))
    assert len(handoff.expire_waiting()) == 1
    [sent] = smtp_server.wait_for(1)
    assert sent["Subject"].startswith("Offline message on Test shop: can someone call me back?")


async def test_a_customer_gets_the_transcript_at_the_email_they_left_and_not_twice_in_a_row(
        team_site, fake_bundle, smtp_server, eager_tasks):
    customer = chat_communicator()
    await customer.connect()
    await customer.receive_json_from()
    await say(customer, "do you ship to Norway?", "t1")
    await customer.send_json_to({"type": "transcript"})
    assert (await next_of(customer, "error"))["code"] == "no_email"
    await customer.send_json_to({"type": "email", "email": "kim@example.com"})
    await next_of(customer, "email")
    await customer.send_json_to({"type": "transcript"})
    assert await next_of(customer, "transcript") == {"type": "transcript", "queued": True}
    await customer.send_json_to({"type": "transcript"})
    assert (await next_of(customer, "error"))["code"] == "too_soon"
    sent = await database_sync_to_async(smtp_server.wait_for)(2)  # the team's notice and the transcript
    transcript = next(m for m in sent if m["To"] == "kim@example.com")
    assert transcript["Subject"] == "Your conversation with Test shop"
    assert transcript["Reply-To"] == "team@shop.example.com"
    assert "You: do you ship to Norway?" in transcript.get_content()
    await customer.disconnect()
