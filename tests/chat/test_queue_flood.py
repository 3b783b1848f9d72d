"""A waiting customer stays in the agent queue whatever else happens; empty chats are purged
(issue 14, item 4)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import conversations, handoff
from chat.models import Conversation, Visitor
from chat.retention import purge_empty_conversations
from chat import store

pytestmark = pytest.mark.django_db


def test_a_waiting_customer_stays_first_after_150_busier_chats(site):
    waiting, _ = conversations.open_conversation(site, None)
    store.receive_customer_message(waiting.pk, "w1", "I need a person")
    handoff.request(waiting.pk, "customer asked")
    for i in range(150):
        other, _ = conversations.open_conversation(site, None)
        store.receive_customer_message(other.pk, f"m{i}", "hello")
    Conversation.objects.exclude(pk=waiting.pk).update(updated=timezone.now() + timedelta(minutes=5))
    rows = handoff.queue()
    assert rows[0]["id"] == str(waiting.public_id) and rows[0]["status"] == "waiting"
    assert len(rows) == 101


def test_conversations_nobody_wrote_in_are_purged_with_their_visitors(site):
    empty, _ = conversations.open_conversation(site, None)
    used, _ = conversations.open_conversation(site, None)
    store.receive_customer_message(used.pk, "c1", "hello")
    fresh, _ = conversations.open_conversation(site, None)
    Conversation.objects.filter(pk__in=[empty.pk, used.pk]).update(created=timezone.now() - timedelta(hours=2))
    assert purge_empty_conversations() == 1
    assert set(Conversation.objects.values_list("pk", flat=True)) == {used.pk, fresh.pk}
    assert not Visitor.objects.filter(pk=empty.visitor_id).exists()
