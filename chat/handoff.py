"""The handoff state machine: bot → waiting → human → bot or closed.

Every transition is stored as a `system` message in the conversation and returned in a
Reply so the caller can deliver it. While a human owns a chat the bot is silent: the reply
policy checks the status it reads under the same row lock that orders messages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from chat import conversations
from chat.conversations import Reply
from chat.models import AgentPresence, Conversation, Message
from privacy.redaction import redact

from knowledge.models import Ticket
from knowledge.tickets import propose_ticket

AGENTS_GROUP = "agents"
PRESENCE_TTL = timedelta(seconds=90)
Status = Conversation.Status


class HandoffError(Exception):
    """An agent action that the conversation's state does not allow."""

    code = "not_allowed"

    @property
    def detail(self) -> str:
        return str(self)


def agents_online() -> int:
    cutoff = timezone.now() - PRESENCE_TTL
    return AgentPresence.objects.filter(last_seen__gte=cutoff).values("user").distinct().count()


def offer_email(conversation: Conversation) -> bool:
    """A waiting customer with nobody online to take the chat may leave an email instead."""
    return conversation.status == Status.WAITING and not agents_online()


def queue_position(conversation: Conversation) -> int:
    return Conversation.objects.filter(
        status=Status.WAITING, waiting_since__lte=conversation.waiting_since
    ).count()


def _system(conversation_id: int, text: str) -> Message:
    return conversations.append(conversation_id, Message.Sender.SYSTEM, text)


def _set_status(conversation_id: int, status: str, **fields: Any) -> None:
    Conversation.objects.filter(pk=conversation_id).update(status=status, updated=timezone.now(), **fields)


def request(conversation_id: int, reason: str) -> Reply:
    """The customer (or the policy on their behalf) asks for a person."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.status in (Status.WAITING, Status.HUMAN):
            return Reply()
        now = timezone.now()
        _set_status(conversation_id, Status.WAITING, waiting_since=now, agent=None,
                    handoff_reason=conversations.redact_for_storage(reason))
        conversation.waiting_since = now
    online = agents_online()
    if online:
        position = queue_position(conversation)
        text = (
            f"I'm connecting you with a person. You are number {position} in the queue; "
            "stay here and an agent will join shortly."
        )
    else:
        text = (
            "No agent is online right now, so nobody can join this chat at the moment. "
            "Leave your email and a person will get back to you; you can also keep waiting here."
        )
    return Reply(messages=[_system(conversation_id, text)], status=Status.WAITING, handoff=True,
                 offer_email=not online)


def valid_email(email: str) -> bool:
    """Whether `email` is an address Django's validator accepts (no markup, no spaces, a real domain)."""
    try:
        validate_email(email.strip())
    except ValidationError:
        return False
    return True


def leave_email(conversation_id: int, email: str) -> Reply | None:
    """Keep the customer's email for an agent to answer later; None when it is not an email."""
    email = email.strip()
    if not valid_email(email):
        return None
    conversation = Conversation.objects.select_related("visitor").get(pk=conversation_id)
    conversation.visitor.email = email
    conversation.visitor.save(update_fields=["email"])
    return Reply(messages=[_system(conversation_id, "Thanks, we'll reply to your email.")])


def join(conversation_id: int, agent: User) -> Reply:
    """An agent takes the conversation; from now on the bot stays silent."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.status == Status.HUMAN and conversation.agent_id == agent.pk:
            return Reply()
        if conversation.status == Status.HUMAN:
            raise HandoffError("another agent owns this conversation")
        _set_status(conversation_id, Status.HUMAN, agent=agent, waiting_since=None)
    name = agent.get_short_name() or agent.get_username()
    return Reply(messages=[_system(conversation_id, f"{name} joined the chat.")], status=Status.HUMAN)


def agent_message(conversation_id: int, agent: User, text: str) -> Reply:
    conversation = Conversation.objects.get(pk=conversation_id)
    joined = Reply()
    if conversation.status != Status.HUMAN or conversation.agent_id != agent.pk:
        joined = join(conversation_id, agent)
    message = conversations.append(conversation_id, Message.Sender.AGENT, text, agent=agent)
    return Reply(messages=[*joined.messages, message], status=joined.status)


def release(conversation_id: int, agent: User) -> Reply:
    """Hand the conversation back to the bot."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.status == Status.BOT:
            return Reply()
        _set_status(conversation_id, Status.BOT, agent=None, waiting_since=None)
    return Reply(
        messages=[_system(conversation_id, "You're chatting with the bot again. Ask for a person any time.")],
        status=Status.BOT,
    )


def close(conversation_id: int, agent: User, resolution: str) -> Reply:
    """Close the chat; a resolution turns it into a ticket proposal awaiting approval."""
    with transaction.atomic():
        Conversation.objects.select_for_update().get(pk=conversation_id)
        _set_status(conversation_id, Status.CLOSED, resolution=conversations.redact_for_storage(resolution),
                    waiting_since=None)
    if resolution.strip():
        _propose_ticket(conversation_id, resolution.strip())
    return Reply(messages=[_system(conversation_id, "This conversation was closed. Thank you!")],
                 status=Status.CLOSED)


def _propose_ticket(conversation_id: int, resolution: str) -> Ticket | None:
    """The customer's words and the agent's resolution, redacted, awaiting an admin's approval."""
    texts = Message.objects.filter(conversation_id=conversation_id, sender=Message.Sender.CUSTOMER)
    question = "\n".join(texts.order_by("seq").values_list("text", flat=True)[:20])
    if not question:
        return None
    intents = Message.objects.filter(conversation_id=conversation_id, sender=Message.Sender.BOT).exclude(intent="")
    return propose_ticket(
        conversation_id,
        redact(question)[:4000],
        redact(resolution),
        intent=intents.values_list("intent", flat=True).first() or "",
    )


def find_conversation(public_id: object) -> int | None:
    try:
        return Conversation.objects.values_list("pk", flat=True).filter(public_id=str(public_id)).first()
    except (ValueError, TypeError, ValidationError):
        return None


def history_frames(conversation_id: int) -> list[dict[str, Any]]:
    return [conversations.message_frame(m) for m in conversations.history(conversation_id)]


def agent_connected(channel_name: str, agent: User) -> None:
    AgentPresence.objects.update_or_create(
        channel_name=channel_name, defaults={"user": agent, "last_seen": timezone.now()}
    )


def agent_disconnected(channel_name: str, agent: User) -> list[tuple[Conversation, Reply]]:
    AgentPresence.objects.filter(channel_name=channel_name).delete()
    return requeue_abandoned(agent)


def requeue_abandoned(agent: User | None = None) -> list[tuple[Conversation, Reply]]:
    """Put human-owned chats whose agent has no live console back in the queue."""
    cutoff = timezone.now() - PRESENCE_TTL
    live = AgentPresence.objects.filter(last_seen__gte=cutoff).values("user")
    owned = Conversation.objects.filter(status=Status.HUMAN).exclude(agent__in=live)
    if agent is not None:
        owned = owned.filter(agent=agent)
    result = []
    for conversation in owned:
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
            if locked.status != Status.HUMAN:
                continue
            _set_status(conversation.pk, Status.WAITING, agent=None, waiting_since=timezone.now(),
                        handoff_reason="agent disconnected")
        message = _system(conversation.pk, "The agent got disconnected. You're back in the queue; "
                          "the next available agent will join.")
        result.append((conversation, Reply(messages=[message], status=Status.WAITING, handoff=True)))
    return result


def queue() -> list[dict[str, Any]]:
    """The console's list: waiting first (oldest first), then human-owned, then recent bot chats."""
    now = timezone.now()
    order: dict[str, int] = {Status.WAITING: 0, Status.HUMAN: 1, Status.BOT: 2}
    last_text = Message.objects.filter(conversation=OuterRef("pk")).order_by("-seq").values("text")[:1]
    rows = list(
        Conversation.objects.exclude(status=Status.CLOSED)
        .select_related("agent", "site")
        .annotate(last_text=Subquery(last_text))
        .order_by("-updated")[:100]
    )
    rows.sort(key=lambda c: (order.get(c.status, 3), c.waiting_since or now, -c.updated.timestamp()))
    # Two queries for the whole list, not three per chat: the chats with their last message, and
    # the bot's 20 most recent classified answers of each (a window function, ranked by seq).
    ids = [c.pk for c in rows]
    recent: dict[int, list[tuple[str, float | None]]] = {}
    for conversation_id, intent, confidence in (
        Message.objects.filter(conversation_id__in=ids, sender=Message.Sender.BOT)
        .exclude(intent="")
        .annotate(rank=Window(RowNumber(), partition_by=[F("conversation_id")], order_by=F("seq").desc()))
        .filter(rank__lte=20)
        .order_by("conversation_id", "-seq")
        .values_list("conversation_id", "intent", "confidence")
    ):
        recent.setdefault(conversation_id, []).append((intent, confidence))
    result = []
    for c in rows:
        answers = recent.get(c.pk, [])
        intents = list(dict.fromkeys(intent for intent, _ in answers[:5]))
        confidences = [confidence for _, confidence in answers if confidence is not None]
        result.append(
            {
                "id": str(c.public_id),
                "status": c.status,
                "site": c.site.name,
                "agent": c.agent.get_username() if c.agent else None,
                "reason": c.handoff_reason,
                "intents": intents,
                "confidence": round(min(confidences), 3) if confidences else None,
                "wait_seconds": int((now - c.waiting_since).total_seconds()) if c.waiting_since else None,
                "last_text": (c.last_text or "")[:140],
                "updated": c.updated.isoformat(),
            }
        )
    return result


async def notify_queue(channel_layer: Any) -> None:
    """Tell every agent console to refresh its queue."""
    await channel_layer.group_send(AGENTS_GROUP, {"type": "agent.queue"})
