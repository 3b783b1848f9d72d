"""Curation needs the matching permissions, and agents can be limited to the sites they are
assigned to; a site with nobody assigned stays visible to all staff (issue 14, item 7)."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Permission, User
from django.test import Client

from chat import conversations, handoff
from chat.models import Site
from knowledge.models import Intent, TrainingExample
from tests.chat.test_handoff import agent_communicator, next_of, session_cookie
from chat import store

pytestmark = [pytest.mark.django_db(transaction=True)]


def staff(name: str, *perms: str) -> User:
    user = User.objects.create_user(name, password="pw-for-tests-only", is_staff=True)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def question(site, text="where is my parcel"):
    conversation, _ = conversations.open_conversation(site, None)
    return conversation, store.receive_customer_message(conversation.pk, "q1", text).message


def test_staff_without_the_permission_cannot_open_the_review_queue_or_label(site):
    _, asked = question(site)
    client = Client()
    client.force_login(staff("sam"))
    assert client.get("/admin/review/", secure=True).status_code == 403
    assert client.post(f"/admin/review/{asked.pk}/", {"action": "oos"}, secure=True).status_code == 403
    assert not TrainingExample.objects.exists()


def test_labelling_needs_the_example_permission_and_a_new_intent_the_intent_permission(site):
    _, asked = question(site)
    Intent.objects.create(name="shipping", answer="3 days")
    client = Client()
    client.force_login(staff("kim", "knowledge.add_trainingexample"))
    new = {"action": "new", "name": "space", "answer": "Earth only"}
    assert client.post(f"/admin/review/{asked.pk}/", new, secure=True).status_code == 403
    assert not Intent.objects.filter(name="space").exists()
    assert client.post(f"/admin/review/{asked.pk}/", {"action": "oos"}, secure=True).status_code == 302
    assert TrainingExample.objects.filter(message_id=asked.pk, is_oos=True).exists()


def test_agents_see_and_open_only_the_sites_they_are_assigned_to_or_that_have_nobody(site):
    shop = Site.objects.create(public_key="shop-two", name="Second shop")
    assigned, unassigned = staff("ana"), staff("bob")
    shop.agents.add(assigned)
    theirs, _ = question(shop)
    everyone, _ = question(site)
    for conversation in (theirs, everyone):
        handoff.request(conversation.pk, "customer asked")
    assert {row["id"] for row in handoff.queue(assigned)} == {str(theirs.public_id), str(everyone.public_id)}
    assert {row["id"] for row in handoff.queue(unassigned)} == {str(everyone.public_id)}
    assert handoff.find_conversation(theirs.public_id, unassigned) is None
    assert handoff.find_conversation(theirs.public_id, assigned) == theirs.pk


async def test_an_unassigned_agent_cannot_join_another_sites_chat_on_the_socket(site):
    shop = await database_sync_to_async(Site.objects.create)(public_key="shop-two", name="Second shop")
    assigned, unassigned = await database_sync_to_async(lambda: (staff("ana"), staff("bob")))()
    await database_sync_to_async(shop.agents.add)(assigned)
    conversation, _ = await database_sync_to_async(question)(shop)
    ws = agent_communicator(await database_sync_to_async(session_cookie)(unassigned))
    connected, _ = await ws.connect()
    assert connected
    queue = await next_of(ws, "queue")
    assert str(conversation.public_id) not in [row["id"] for row in queue["conversations"]]
    await ws.send_json_to({"type": "join", "conversation": str(conversation.public_id)})
    error = await next_of(ws, "error")
    assert error["code"] == "unknown_conversation"
    await ws.disconnect()
