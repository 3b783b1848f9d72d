"""Retention and erasure of customer data.

Raw conversation text is kept for agents only as long as its site's retention period; after
that a beat task redacts it in place. Erasing a visitor deletes their conversations and
everything derived from them, and queues a retrain so no model keeps learning from them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from chat.models import Conversation, Erasure, Message, Rating, Site, Visitor
from knowledge.signals import training_data_removed
from knowledge.models import TrainingExample
from privacy.redaction import redact
from knowledge.models import Ticket
from knowledge.tickets import reject_ticket

ERASED = "[erased]"


def anonymize_expired(now: Any = None) -> int:
    """Redact the messages of conversations whose last message is older than their site's retention.

    The age counts from the last message, not from the conversation's last change of state
    (storing a message does not touch `Conversation.updated`). Messages that arrive after
    anonymising are redacted as they are stored (chat/conversations.py).
    """
    now = now or timezone.now()
    done = 0
    for site in Site.objects.all():
        cutoff = now - timedelta(days=site.retention_days)
        recent = Message.objects.filter(conversation=OuterRef("pk"), created__gte=cutoff)
        expired = Conversation.objects.filter(site=site, anonymized=False, updated__lt=cutoff).exclude(Exists(recent))
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


def purge_empty_conversations(older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete conversations nobody wrote in (each anonymous connection opens one) and their
    visitors when nothing else is left of them; the count of conversations deleted."""
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        empty = Conversation.objects.filter(last_seq=0, created__lt=cutoff, status=Conversation.Status.BOT)
        visitors = list(empty.values_list("visitor_id", flat=True))
        deleted = empty.delete()[1].get("chat.Conversation", 0)
        Visitor.objects.filter(pk__in=visitors, conversations__isnull=True, email="").delete()
    return deleted


def purge_erased_tickets(older_than: timedelta = timedelta(days=1)) -> int:
    """Delete blanked tickets once every live index has had time to drop them."""
    stale = Ticket.objects.filter(question=ERASED, status=Ticket.Status.REJECTED,
                                  updated__lt=timezone.now() - older_than)
    return stale.delete()[0]


def find_visitors(reference: str) -> list[Visitor]:
    """Every visitor an erasure request names: by visitor id or conversation id, or, for an
    email address, every visitor who left it and every visitor whose messages hold it."""
    reference = reference.strip()
    if not reference:
        return []
    try:
        uuid.UUID(reference)
    except ValueError:
        pass
    else:
        return list(Visitor.objects.filter(Q(public_id=reference) | Q(conversations__public_id=reference)).distinct())
    if "@" not in reference:
        return []
    wrote_it = Message.objects.filter(text__icontains=reference).values("conversation__visitor_id")
    return list(Visitor.objects.filter(Q(email__iexact=reference) | Q(pk__in=wrote_it)).distinct().order_by("pk"))


def export_visitor(visitor: Visitor) -> dict[str, Any]:
    """Everything stored about a visitor (GDPR access), as plain JSON-ready data: who they are,
    their consent, and each conversation with its messages and rating."""

    def when(value: Any) -> str | None:
        return value.isoformat() if value else None

    chats = []
    for conversation in Conversation.objects.filter(visitor=visitor).select_related("site").order_by("created"):
        rating = Rating.objects.filter(conversation=conversation).first()
        chats.append({
            "id": str(conversation.public_id),
            "site": conversation.site.name,
            "status": conversation.status,
            "page": conversation.page,
            "started": when(conversation.created),
            "handoff_reason": conversation.handoff_reason,
            "resolution": conversation.resolution,
            "anonymized": conversation.anonymized,
            "rating": {"score": rating.score, "comment": rating.comment, "created": when(rating.created)}
            if rating else None,
            "messages": [
                {"seq": m.seq, "sender": m.sender, "text": m.text, "created": when(m.created), "feedback": m.feedback}
                for m in conversation.messages.order_by("seq")
            ],
        })
    return {
        "visitor": {"id": str(visitor.public_id), "site": visitor.site.name, "email": visitor.email,
                    "name": visitor.name, "created": when(visitor.created),
                    "consent": {"at": when(visitor.consent_at), "version": visitor.consent_version}},
        "conversations": chats,
        "exported": timezone.now().isoformat(),
    }
