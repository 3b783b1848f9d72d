"""Retention and erasure of customer data.

Raw conversation text is kept for agents only as long as its site's retention period; after
that a beat task redacts it in place. Erasing a visitor deletes their conversations and
everything derived from them, and queues a retrain so no model keeps learning from them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from chat.models import Conversation, Erasure, Message, Site, Visitor
from knowledge.signals import training_data_removed
from knowledge.models import TrainingExample
from privacy.redaction import redact
from knowledge.models import Ticket
from knowledge.tickets import reject_ticket

ERASED = "[erased]"


def anonymize_expired(now: Any = None) -> int:
    """Redact the messages of conversations idle for longer than their site's retention."""
    now = now or timezone.now()
    done = 0
    for site in Site.objects.all():
        cutoff = now - timedelta(days=site.retention_days)
        expired = Conversation.objects.filter(site=site, anonymized=False, updated__lt=cutoff)
        for conversation in expired.iterator():
            with transaction.atomic():
                for message in conversation.messages.all():
                    cleaned = redact(message.text)
                    if cleaned != message.text:
                        Message.objects.filter(pk=message.pk).update(text=cleaned)
                Visitor.objects.filter(pk=conversation.visitor_id).update(email="")
                Conversation.objects.filter(pk=conversation.pk).update(anonymized=True, resolution=redact(conversation.resolution))
            done += 1
    return done


def erase_visitor(visitor: Visitor, requested_by: Any = None) -> Erasure:
    """Delete a visitor, their conversations and all derived data; record only the counts.

    Steps: blank and reject the tickets proposed from their conversations (the live indexes
    drop rejected tickets on their next sync), delete training examples made from their
    messages, delete the conversations (messages cascade) and the visitor, then queue a
    retrain (training hears `training_data_removed`) so the next model has never seen them.
    """
    with transaction.atomic():
        conversations = Conversation.objects.filter(visitor=visitor)
        tickets = list(Ticket.objects.filter(conversation_id__in=conversations.values("pk")))
        for ticket in tickets:
            ticket.question = ticket.resolution = ERASED
            ticket.conversation_id = None
            ticket.save()
            reject_ticket(ticket)
        examples = TrainingExample.objects.filter(
            message_id__in=Message.objects.filter(conversation__in=conversations).values("pk")
        )
        counts = {
            "conversations": conversations.count(),
            "messages": Message.objects.filter(conversation__in=conversations).count(),
            "training_examples": examples.count(),
            "tickets": len(tickets),
        }
        examples.delete()
        conversations.delete()
        visitor.delete()
        erasure = Erasure.objects.create(requested_by=requested_by, counts=counts)
        if counts["training_examples"] or counts["tickets"]:
            training_data_removed.send(sender=Erasure, reason="erasure")
    return erasure


def purge_erased_tickets(older_than: timedelta = timedelta(days=1)) -> int:
    """Delete blanked tickets once every live index has had time to drop them."""
    stale = Ticket.objects.filter(question=ERASED, status=Ticket.Status.REJECTED,
                                  updated__lt=timezone.now() - older_than)
    return stale.delete()[0]


def find_visitor(reference: str) -> Visitor | None:
    """A visitor by their id, a conversation id, or the email they left."""
    reference = reference.strip()
    for lookup in ({"public_id": reference}, {"conversations__public_id": reference}):
        try:
            found = Visitor.objects.filter(**lookup).first()
        except Exception:  # not a UUID
            found = None
        if found:
            return found
    return Visitor.objects.filter(email__iexact=reference).first() if "@" in reference else None
