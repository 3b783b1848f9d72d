"""A site can require consent before the first message, recorded with the visitor; staff can
export everything stored about a visitor as one JSON file (issue 14, item 17)."""

import json

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from chat import conversations, store
from chat.models import Message, Site, Visitor
from tests.conftest import chat_communicator, new_client_id

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def consent_site(site):
    Site.objects.filter(pk=site.pk).update(require_consent=True, privacy_notice_url="https://shop.example.com/privacy",
                                           privacy_notice_version="2024-05")
    return site


async def next_frame(ws, kind):
    while (frame := await ws.receive_json_from())["type"] not in (kind, "error"):
        pass
    return frame


async def test_nothing_is_stored_before_the_customer_accepts_the_notice(consent_site, fake_bundle):
    ws = chat_communicator()
    await ws.connect()
    hello = await ws.receive_json_from()
    assert hello["consent"] == {"required": True, "notice_url": "https://shop.example.com/privacy",
                                "version": "2024-05", "given": False}
    await ws.send_json_to({"type": "message", "client_id": new_client_id(), "text": "hello"})
    assert (await next_frame(ws, "ack"))["code"] == "consent_required"
    await ws.send_json_to({"type": "email", "email": "pat@example.com"})
    assert (await next_frame(ws, "email"))["code"] == "consent_required"
    assert not await database_sync_to_async(Message.objects.exists)()
    await ws.send_json_to({"type": "consent", "version": "2023-01"})
    assert (await next_frame(ws, "consent"))["code"] == "stale_notice"
    await ws.send_json_to({"type": "consent", "version": "2024-05"})
    assert (await next_frame(ws, "consent"))["given"] is True
    await ws.send_json_to({"type": "message", "client_id": new_client_id(), "text": "hello"})
    assert (await next_frame(ws, "ack"))["type"] == "ack"
    visitor = await database_sync_to_async(Visitor.objects.get)()
    assert visitor.consent_version == "2024-05" and visitor.consent_at is not None
    await ws.disconnect()
    again = chat_communicator(query=f"token={hello['token']}")
    await again.connect()
    assert (await again.receive_json_from())["consent"]["given"] is True
    await again.disconnect()


async def test_a_new_notice_version_asks_again(consent_site, fake_bundle):
    visitor = await database_sync_to_async(Visitor.objects.create)(site=consent_site, consent_version="2023-01")
    assert await database_sync_to_async(conversations.consent_needed)(
        await database_sync_to_async(Site.objects.get)(pk=consent_site.pk), visitor)


async def test_sites_that_do_not_ask_take_messages_at_once(site, fake_bundle):
    ws = chat_communicator()
    await ws.connect()
    assert (await ws.receive_json_from())["consent"]["required"] is False
    await ws.send_json_to({"type": "message", "client_id": new_client_id(), "text": "hello"})
    assert (await next_frame(ws, "ack"))["type"] == "ack"
    await ws.disconnect()


def test_staff_export_everything_stored_about_a_visitor_as_json(site):
    conversation, _ = conversations.open_conversation(site, None)
    store.receive_customer_message(conversation.pk, "c1", "my email is pat@example.com")
    conversations.rate(conversation.pk, 4, "quick")
    Visitor.objects.filter(pk=conversation.visitor_id).update(email="pat@example.com", consent_version="1")
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-only"))
    response = client.post("/admin/chat/visitor/", {"action": "export_json",
                                                   "_selected_action": [conversation.visitor_id]}, secure=True)
    assert response["Content-Type"] == "application/json" and "attachment" in response["Content-Disposition"]
    [data] = json.loads(response.content)
    assert data["visitor"]["email"] == "pat@example.com" and data["visitor"]["consent"]["version"] == "1"
    [chat] = data["conversations"]
    assert chat["id"] == str(conversation.public_id) and chat["rating"]["score"] == 4
    assert [m["text"] for m in chat["messages"]] == ["my email is pat@example.com"]
