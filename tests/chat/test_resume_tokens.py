"""Resume tokens expire after a site-configurable time and can be rotated; a silent socket is
closed (issue 14, item 16)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from chat import conversations
from chat.models import Conversation, Message, Site
from tests.conftest import chat_communicator, new_client_id
from chat import store

pytestmark = [pytest.mark.django_db(transaction=True)]


async def hello(**kwargs):
    ws = chat_communicator(**kwargs)
    await ws.connect()
    frame = await ws.receive_json_from()
    assert frame["type"] == "conversation"
    return ws, frame


def test_a_token_older_than_the_sites_limit_opens_a_new_conversation(site):
    Site.objects.filter(pk=site.pk).update(resume_token_days=30)
    site.refresh_from_db()
    old, _ = conversations.open_conversation(site, None)
    store.receive_customer_message(old.pk, "c1", "hello")
    Message.objects.filter(conversation=old).update(created=timezone.now() - timedelta(days=31))
    resumed, created = conversations.open_conversation(site, old.token)
    assert created and resumed.pk != old.pk and resumed.visitor_id != old.visitor_id
    Message.objects.filter(conversation=old).update(created=timezone.now() - timedelta(days=29))
    assert conversations.open_conversation(site, old.token) == (old, False)


def test_a_site_can_let_tokens_live_forever(site):
    Site.objects.filter(pk=site.pk).update(resume_token_days=0)
    site.refresh_from_db()
    old, _ = conversations.open_conversation(site, None)
    Conversation.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=3650))
    assert conversations.open_conversation(site, old.token)[0].pk == old.pk


async def test_a_rotated_token_replaces_the_old_one(site, fake_bundle):
    ws, first = await hello()
    await ws.send_json_to({"type": "message", "client_id": new_client_id(), "text": "hello"})
    await ws.send_json_to({"type": "rotate_token"})
    while (frame := await ws.receive_json_from())["type"] != "token":
        pass
    assert frame["token"] != first["token"]
    await ws.disconnect()
    with_old, reopened = await hello(query=f"token={first['token']}")
    assert reopened["id"] != first["id"]
    await with_old.disconnect()
    with_new, resumed = await hello(query=f"token={frame['token']}")
    assert resumed["id"] == first["id"]
    await with_new.disconnect()


async def test_a_socket_on_which_nothing_arrives_is_closed(site, fake_bundle, settings):
    settings.CHAT_IDLE_SECONDS = 1
    ws, _ = await hello()
    closed = await ws.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 4408}


def test_staff_can_rotate_tokens_from_the_admin(site):
    conversation, _ = conversations.open_conversation(site, None)
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-only"))
    client.post("/admin/chat/conversation/", {"action": "rotate_tokens", "_selected_action": [conversation.pk]},
                secure=True)
    assert Conversation.objects.get(pk=conversation.pk).token != conversation.token
