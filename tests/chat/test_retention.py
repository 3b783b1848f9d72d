"""Retention redacts old conversations; erasure removes a visitor and all that derives from them."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from chat.models import Conversation, Erasure, Message, Visitor
from knowledge.models import Intent, TrainingExample
from chat.retention import anonymize_expired, erase_visitor
from knowledge.models import Ticket
from training.models import TrainingRun
from chat import store

pytestmark = pytest.mark.django_db


def chat_with(site, text):
    visitor = Visitor.objects.create(site=site, email="pat@example.com")
    conversation = Conversation.objects.create(site=site, visitor=visitor)
    message = store.append(conversation.pk, "customer", text, client_id="c1")
    return visitor, conversation, message


def test_conversations_past_retention_are_redacted_in_place(site):
    site.retention_days = 30
    site.save()
    _, old, message = chat_with(site, "my email is pat@example.com, card 4111 1111 1111 1111")
    _, recent, fresh = chat_with(site, "call me on +44 20 7946 0958")
    Conversation.objects.filter(pk=old.pk).update(updated=timezone.now() - timedelta(days=31))
    Message.objects.filter(conversation=old).update(created=timezone.now() - timedelta(days=31))
    assert anonymize_expired() == 1
    message.refresh_from_db()
    fresh.refresh_from_db()
    assert message.text == "my email is [EMAIL], card [CARD]"
    assert fresh.text == "call me on +44 20 7946 0958"
    assert Visitor.objects.get(conversations=old).email == ""
    assert anonymize_expired() == 0


def test_erasing_a_visitor_removes_conversations_examples_and_tickets(site):
    visitor, conversation, message = chat_with(site, "I'm Pat, my parcel is lost")
    intent = Intent.objects.create(name="lost_parcel", answer="We'll find it.")
    TrainingExample.objects.create(text=message.text, intent=intent, message_id=message.pk, origin="review")
    ticket = Ticket.objects.create(question="parcel lost", resolution="resent", conversation_id=conversation.pk,
                                   status=Ticket.Status.APPROVED)
    unrelated = Ticket.objects.create(question="other", resolution="ok", status=Ticket.Status.APPROVED)

    erasure = erase_visitor(visitor)

    assert erasure.counts == {"conversations": 1, "messages": 1, "training_examples": 1, "tickets": 1}
    assert not Visitor.objects.filter(pk=visitor.pk).exists()
    assert not Message.objects.exists() and not TrainingExample.objects.exists()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.question, ticket.resolution) == ("rejected", "[erased]", "[erased]")
    assert Ticket.objects.get(pk=unrelated.pk).status == "approved"
    assert TrainingRun.objects.filter(trigger="erasure", status="queued").exists()
    assert "Pat" not in str(Erasure.objects.get().counts)


def test_the_erase_command_finds_a_visitor_by_email(site, capsys):
    visitor, _, _ = chat_with(site, "hello")
    call_command("erase_visitor", "PAT@example.com", "--json")
    assert '"conversations": 1' in capsys.readouterr().out
    assert not Visitor.objects.filter(pk=visitor.pk).exists()


def test_erasing_by_email_erases_every_visitor_who_left_it_or_wrote_it(site, capsys):
    first, _, _ = chat_with(site, "hello")
    second, _, _ = chat_with(site, "hello again")
    wrote_it = Visitor.objects.create(site=site)
    conversation = Conversation.objects.create(site=site, visitor=wrote_it)
    store.append(conversation.pk, "customer", "reply to Pat@Example.com please", client_id="c1")
    bystander, _, _ = chat_with(site, "someone else")
    Visitor.objects.filter(pk=bystander.pk).update(email="sam@example.com")
    call_command("erase_visitor", "pat@example.com", "--json")
    out = capsys.readouterr().out
    assert '"visitors": 3' in out and '"conversations": 3' in out
    assert list(Visitor.objects.values_list("pk", flat=True)) == [bystander.pk]
    assert not Message.objects.filter(text__icontains="pat@example.com").exists()


def test_an_email_nobody_left_or_wrote_is_no_match(site):
    chat_with(site, "hello")
    with pytest.raises(CommandError, match="no visitor matches"):
        call_command("erase_visitor", "nobody@example.com")


def test_retention_counts_from_the_last_message_not_from_the_conversations_start(site):
    site.retention_days = 30
    site.save()
    _, conversation, _ = chat_with(site, "call me on +44 20 7946 0958")
    Conversation.objects.filter(pk=conversation.pk).update(updated=timezone.now() - timedelta(days=40))
    Message.objects.filter(conversation=conversation).update(created=timezone.now() - timedelta(days=40))
    store.append(conversation.pk, "customer", "still there?", client_id="c2")  # today
    assert anonymize_expired() == 0
    Message.objects.filter(conversation=conversation).update(created=timezone.now() - timedelta(days=31))
    assert anonymize_expired() == 1


def test_messages_arriving_after_anonymising_are_stored_redacted(site):
    site.retention_days = 30
    site.save()
    _, conversation, _ = chat_with(site, "my password is hunter2, card 4111.1111.1111.1111")
    Conversation.objects.filter(pk=conversation.pk).update(updated=timezone.now() - timedelta(days=31))
    Message.objects.filter(conversation=conversation).update(created=timezone.now() - timedelta(days=31))
    assert anonymize_expired() == 1
    later = store.receive_customer_message(conversation.pk, "c9", "it's pat@example.com, +44 20 7946 0958")
    texts = list(Message.objects.filter(conversation=conversation).order_by("seq").values_list("text", flat=True))
    assert texts == ["my password is [SECRET], card [CARD]", "it's [EMAIL], [PHONE]"]
    assert later.message.text == "it's [EMAIL], [PHONE]"
