"""The review queue ranks likely-wrong answers and turns one click into a training example."""

import pytest
from django.contrib.auth.models import User

from chat import review
from chat.models import Conversation, Visitor
from knowledge.models import Intent, TrainingExample
from chat import store

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(site):
    return Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site))


def exchange(conversation, question, **answer):
    asked = store.append(conversation.pk, "customer", question, client_id=question[:60])
    store.append(conversation.pk, "bot", "…", **answer)
    return asked


def test_fallbacks_and_thumbs_down_rank_above_confident_answers(conversation):
    fine = exchange(conversation, "where is my order", source="answer", intent="order_status", confidence=0.97)
    shaky = exchange(conversation, "parcel not here", source="answer", intent="order_status", confidence=0.55)
    fallback = exchange(conversation, "can I pay in bitcoin", source="fallback", confidence=0.2)
    disliked = exchange(conversation, "refund?", source="answer", intent="refund", confidence=0.9, feedback="down")
    ranked = [item.question for item in review.queue()]
    assert ranked[0] == fallback
    assert disliked in ranked and shaky in ranked
    assert fine not in ranked
    assert ranked.index(fallback) < ranked.index(shaky)


def test_a_handoff_and_an_agent_takeover_are_review_signals(conversation):
    asked = store.append(conversation.pk, "customer", "I need to speak to someone about my loan", client_id="h1")
    store.append(conversation.pk, "system", "You are number 1 in the queue")
    store.append(conversation.pk, "agent", "Hi, I can help")
    item = next(i for i in review.queue() if i.question == asked)
    assert {"handoff", "agent_took_over"} <= set(item.reasons)


def test_labelling_creates_a_redacted_example_and_leaves_the_queue(conversation):
    intent = Intent.objects.create(name="payment_methods", answer="We accept cards.")
    asked = exchange(conversation, "can I pay with card 4111 1111 1111 1111", source="fallback", confidence=0.1)
    example = review.label(asked, intent=intent)
    assert example.text == "can I pay with card [CARD]"
    assert example.origin == "review" and example.intent == intent
    assert asked not in [i.question for i in review.queue()]


def test_one_click_labels_through_the_admin_page(client, conversation):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.force_login(admin)
    asked = exchange(conversation, "do you ship to mars", source="fallback", confidence=0.1)
    page = client.get("/admin/review/")
    assert page.status_code == 200 and b"do you ship to mars" in page.content
    response = client.post(f"/admin/review/{asked.pk}/", {"action": "new", "name": "space shipping",
                                                           "answer": "We only ship on Earth."})
    assert response.status_code == 302
    example = TrainingExample.objects.get(message_id=asked.pk)
    assert example.intent.name == "space_shipping" and example.intent.answer == "We only ship on Earth."
    other = exchange(conversation, "what is love", source="fallback", confidence=0.1)
    client.post(f"/admin/review/{other.pk}/", {"action": "oos"})
    assert TrainingExample.objects.get(message_id=other.pk).is_oos


def test_the_review_queue_is_staff_only(client, conversation):
    user = User.objects.create_user("pat", password="pw-for-tests-only")
    client.force_login(user)
    assert client.get("/admin/review/").status_code == 302
    asked = exchange(conversation, "hello?", source="fallback", confidence=0.1)
    client.post(f"/admin/review/{asked.pk}/", {"action": "oos"})
    assert not TrainingExample.objects.exists()


@pytest.mark.parametrize("url", [
    "/admin/chat/site/", "/admin/chat/conversation/", "/admin/knowledge/intent/", "/admin/knowledge/trainingexample/",
    "/admin/chat/message/", "/admin/knowledge/ticket/", "/admin/training/modelversion/",
    "/admin/training/trainingrun/", "/admin/knowledge/intent/import/",
])
def test_admin_pages_render(admin_client, site, url):
    assert admin_client.get(url).status_code == 200



def test_messages_written_to_a_person_are_not_in_the_review_queue(conversation):
    asked = store.append(conversation.pk, "customer", "can you check my invoice", client_id="p1")
    store.append(conversation.pk, "agent", "Sure, one moment")
    assert asked not in [i.question for i in review.queue()]


def test_the_review_page_renders_answers_preselects_no_label_and_pages(client, conversation):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.force_login(admin)
    Intent.objects.create(name="cancel_order", answer="Cancel under Orders.")
    exchange(conversation, "how do I return a mug", source="answer", intent="cancel_order", confidence=0.3)
    store.append(conversation.pk, "bot", "<b>Returns</b> are free.", source="answer", intent="returns", confidence=0.4)
    for n in range(25):
        exchange(conversation, f"question number {n}", source="fallback", confidence=0.1)
    first = client.get("/admin/review/").content.decode()
    assert "selected>cancel_order" not in first and '<option value="" selected>' in first
    assert "Page 1 of 2" in first
    second = client.get("/admin/review/?page=2").content.decode()
    assert "Page 2 of 2" in second
    everything = first + second
    assert "<b>Returns</b> are free." in everything and "&lt;b&gt;" not in everything
    asked = review.queue()[0].question
    response = client.post(f"/admin/review/{asked.pk}/", {"action": "intent", "intent": ""})
    assert response.status_code == 302 and not TrainingExample.objects.filter(message_id=asked.pk).exists()
