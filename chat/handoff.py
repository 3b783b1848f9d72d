"""The handoff state machine: bot → waiting → human → bot or closed.

Every transition is stored as a `system` message in the conversation and returned in a
Reply so the caller can deliver it. While a human owns a chat the bot is silent: the reply
policy checks the status it reads under the same row lock that orders messages.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _, override

from chat import conversations, hours, mail, signals
from chat.conversations import Reply
from chat.models import AgentPresence, Conversation, Message, Site
from privacy.redaction import redact

from knowledge.models import Ticket
from knowledge.tickets import propose_ticket
from chat import store
from chat.frames import message_frame

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


def available(site: Site) -> bool:
    """Whether a person can take a chat now: business hours, and an agent's console open."""
    return hours.is_open(site) and agents_online() > 0


def offer_email(conversation: Conversation) -> bool:
    """A waiting customer nobody can take now, or whose chat became an offline message, may leave an email."""
    if conversation.status not in (Status.WAITING, Status.OFFLINE) or conversation.visitor.email:
        return False
    return conversation.status == Status.OFFLINE or not available(conversation.site)


def queue_position(conversation: Conversation) -> int:
    """Place in the queue among chats still waiting live (whose customer has not left)."""
    return Conversation.objects.filter(
        status=Status.WAITING, waiting_since__lte=conversation.waiting_since, customer_left__isnull=True
    ).count()


def _system(conversation_id: int, text: str) -> Message:
    return store.append(conversation_id, Message.Sender.SYSTEM, text)


def _language(conversation_id: int) -> str:
    return Site.objects.filter(conversations=conversation_id).values_list("language", flat=True).first() or "en"


def _set_status(conversation_id: int, status: str, **fields: Any) -> None:
    Conversation.objects.filter(pk=conversation_id).update(status=status, updated=timezone.now(), **fields)


def _nobody_text(site: Site) -> str:
    """What a customer is told when nobody can take the chat now (in the site's language)."""
    with override(site.language):
        back = hours.describe_opening(site)
        if back:
            first = _("Our team is away right now; a person will be back %(when)s.") % {"when": back}
        else:
            first = _("No agent is online right now, so nobody can join this chat at the moment.")
        return " ".join([first, _("Leave your email and a person will get back to you. "
                                  "Meanwhile I'll keep answering what I can.")])


def request(conversation_id: int, reason: str) -> Reply:
    """The customer (or the policy on their behalf) asks for a person.

    The customer always hears back at once: their place in the queue, or (nobody can take the
    chat now) when people are back and the offer to leave an email. Asking again while waiting
    repeats where they stand instead of staying silent.
    """
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update(of=("self",)).select_related(
            "site", "visitor").get(pk=conversation_id)
        if conversation.status == Status.HUMAN:
            return Reply()
        again = conversation.status == Status.WAITING
        if not again:
            now = timezone.now()
            _set_status(conversation_id, Status.WAITING, waiting_since=now, agent=None, customer_left=None,
                        handoff_reason=store.redact_for_storage(reason))
            conversation.waiting_since = now
            conversation.customer_left = None
    if not again:
        signals.handoff_requested.send(sender=Conversation, conversation=conversation,
                                       reason=store.redact_for_storage(reason))
    site = conversation.site
    if available(site):
        position = queue_position(conversation)
        with override(site.language):
            if again:
                text = _("You're still in the queue (number %(position)s); an agent will join shortly. "
                         "Meanwhile I'll keep answering what I can.") % {"position": position}
            else:
                text = _("I'm connecting you with a person. You are number %(position)s in the queue; "
                         "stay here and an agent will join shortly. Meanwhile I'll keep answering "
                         "what I can.") % {"position": position}
        return Reply(messages=[_system(conversation_id, text)], status=None if again else Status.WAITING,
                     handoff=not again)
    return Reply(messages=[_system(conversation_id, _nobody_text(site))], status=None if again else Status.WAITING,
                 handoff=not again, offer_email=not conversation.visitor.email)


def stop_waiting(conversation_id: int) -> Reply:
    """The customer stops waiting for a person (or for the team's email) and chats with the bot."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().select_related("site").get(pk=conversation_id)
        if conversation.status not in (Status.WAITING, Status.OFFLINE):
            return Reply()
        _set_status(conversation_id, Status.BOT, waiting_since=None, customer_left=None)
    with override(conversation.site.language):
        text = _("You're chatting with the bot again. Ask for a person any time.")
    return Reply(messages=[_system(conversation_id, text)], status=Status.BOT, handoff=True)


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
    conversation = Conversation.objects.select_related("visitor", "site").get(pk=conversation_id)
    if conversation.visitor.email != email:
        with transaction.atomic():
            conversation.visitor.email = email
            conversation.visitor.save(update_fields=["email"])
            mail.enqueue_team_notification(conversation_id, mail.EMAIL_LEFT)
    with override(conversation.site.language):
        text = _("Thanks, we'll reply to your email.")
    return Reply(messages=[_system(conversation_id, text)])


def customer_connected(conversation: Conversation) -> bool:
    """A customer's socket opened: the chat counts as waiting live again. Returns whether to offer the email form."""
    if conversation.customer_left is not None:
        customer_back(conversation.pk)
    if conversation.status not in (Status.WAITING, Status.OFFLINE):
        return False
    return offer_email(conversation)


def customer_left(conversation_id: int) -> None:
    """The customer's socket closed: a waiting chat stops counting in others' queue positions."""
    Conversation.objects.filter(pk=conversation_id, status=Status.WAITING, customer_left__isnull=True).update(
        customer_left=timezone.now())


def customer_back(conversation_id: int) -> None:
    Conversation.objects.filter(pk=conversation_id, customer_left__isnull=False).update(customer_left=None)


def expire_waiting() -> list[tuple[Conversation, Reply]]:
    """Chats that waited too long for nobody (no agent online, or the customer gone) become offline messages.

    The customer is told that the team will answer by email (and may leave one); agents see the
    chat as an offline message, not in the live queue.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.CHAT_OFFLINE_AFTER_SECONDS)
    stale = Conversation.objects.filter(status=Status.WAITING, waiting_since__lte=cutoff)
    if agents_online():
        stale = stale.filter(customer_left__lte=cutoff)
    result = []
    for conversation in stale.select_related("site", "visitor"):
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
            if locked.status != Status.WAITING:
                continue
            _set_status(conversation.pk, Status.OFFLINE, waiting_since=None)
        with override(conversation.site.language):
            if conversation.visitor.email:
                text = _("Nobody could join in time, so the team will answer your messages by email "
                         "(%(email)s). I'm still here for anything I can answer.") % {"email": conversation.visitor.email}
            else:
                text = _("Nobody could join in time. Leave your email and the team will answer your "
                         "messages there. I'm still here for anything I can answer.")
        conversation.status = Status.OFFLINE
        message = _system(conversation.pk, text)
        mail.enqueue_team_notification(conversation.pk, mail.OFFLINE)
        result.append((conversation, Reply(messages=[message], status=Status.OFFLINE, handoff=True,
                                           offer_email=not conversation.visitor.email)))
    return result


def join(conversation_id: int, agent: User) -> Reply:
    """An agent takes the conversation; from now on the bot stays silent."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.status == Status.HUMAN and conversation.agent_id == agent.pk:
            return Reply()
        if conversation.status == Status.HUMAN:
            raise HandoffError("another agent owns this conversation")
        _set_status(conversation_id, Status.HUMAN, agent=agent, waiting_since=None)
    signals.agent_joined.send(sender=Conversation, conversation_id=conversation_id, agent=agent)
    name = agent.get_short_name() or agent.get_username()
    with override(_language(conversation_id)):
        text = _("%(name)s joined the chat.") % {"name": name}
    return Reply(messages=[_system(conversation_id, text)], status=Status.HUMAN)


def agent_message(conversation_id: int, agent: User, text: str) -> Reply:
    conversation = Conversation.objects.get(pk=conversation_id)
    joined = Reply()
    if conversation.status != Status.HUMAN or conversation.agent_id != agent.pk:
        joined = join(conversation_id, agent)
    message = store.append(conversation_id, Message.Sender.AGENT, text, agent=agent)
    return Reply(messages=[*joined.messages, message], status=joined.status)


def release(conversation_id: int, agent: User) -> Reply:
    """Hand the conversation back to the bot."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.status == Status.BOT:
            return Reply()
        _set_status(conversation_id, Status.BOT, agent=None, waiting_since=None)
    with override(_language(conversation_id)):
        text = _("You're chatting with the bot again. Ask for a person any time.")
    return Reply(messages=[_system(conversation_id, text)], status=Status.BOT)


def close(conversation_id: int, agent: User, resolution: str, question: str | None = None) -> Reply:
    """Close the chat; a resolution turns it into a ticket proposal awaiting approval."""
    with transaction.atomic():
        Conversation.objects.select_for_update().get(pk=conversation_id)
        _set_status(conversation_id, Status.CLOSED, resolution=store.redact_for_storage(resolution),
                    waiting_since=None)
    if resolution.strip():
        _propose_ticket(conversation_id, resolution.strip(), question)
    signals.conversation_closed.send(sender=Conversation, conversation_id=conversation_id,
                                     resolution=store.redact_for_storage(resolution))
    with override(_language(conversation_id)):
        text = _("This conversation was closed. Thank you!")
    return Reply(messages=[_system(conversation_id, text)], status=Status.CLOSED)


def _propose_ticket(conversation_id: int, resolution: str, question: str | None = None) -> Ticket | None:
    """The customer's question and the agent's resolution, redacted, awaiting an admin's approval.

    `question`: as the agent edited it in the close dialog; otherwise the one `proposed_question` finds.
    """
    question = (question or "").strip() or proposed_question(conversation_id)
    if not question:
        return None
    intents = Message.objects.filter(conversation_id=conversation_id, sender=Message.Sender.BOT).exclude(intent="")
    return propose_ticket(
        conversation_id,
        redact(question)[:1000],
        redact(resolution)[:4000],
        intent=intents.values_list("intent", flat=True).first() or "",
    )


def proposed_question(conversation_id: int) -> str:
    """The customer's actual question, redacted: their first message that says something.

    Not a request for a person, not frustration, not a greeting ("hello? is anyone there?"):
    the first customer message left after those, else the longest one. Never the whole chat.
    """
    from chat.replies import ASK_FOR_HUMAN, FRUSTRATED, is_talk_to_person

    texts = list(Message.objects.filter(conversation_id=conversation_id, sender=Message.Sender.CUSTOMER)
                 .order_by("seq").values_list("text", flat=True)[:50])
    if not texts:
        return ""
    for text in texts:
        words = text.split()
        if (len(words) >= 3 and not is_talk_to_person(text) and not ASK_FOR_HUMAN.search(text)
                and not FRUSTRATED.search(text) and not GREETING.match(text)):
            return redact(text.strip())[:1000]
    return redact(max(texts, key=len).strip())[:1000]


GREETING = re.compile(r"^\s*(hi|hello|hey|hallo|bonjour|hola|good (morning|afternoon|evening))\b[\s\W]*"
                      r"(is (any|some)(one|body) (there|here)\??)?[\s\W]*$", re.IGNORECASE)


def customer_card(conversation_id: int) -> dict[str, Any]:
    """Who the agent talks to: name and email when known, the page, their earlier conversations."""
    conversation = Conversation.objects.select_related("visitor", "site").get(pk=conversation_id)
    visitor = conversation.visitor
    earlier_chats = Conversation.objects.filter(visitor=visitor)
    if visitor.email:
        earlier_chats = Conversation.objects.filter(
            Q(visitor=visitor) | Q(site=conversation.site, visitor__email__iexact=visitor.email))
    first_text = Message.objects.filter(conversation=OuterRef("pk"), sender=Message.Sender.CUSTOMER).order_by(
        "seq").values("text")[:1]
    earlier = (
        earlier_chats.exclude(pk=conversation_id).filter(created__lt=conversation.created)
        .annotate(first_text=Subquery(first_text)).exclude(first_text=None).order_by("-created")[:10]
    )
    return {
        "email": visitor.email,
        "name": visitor.name,
        "page": conversation.page,
        "question": proposed_question(conversation_id),
        "earlier": [
            {"id": str(c.public_id), "created": c.created.isoformat(), "status": c.status,
             "text": (c.first_text or "")[:140]}
            for c in earlier
        ],
    }


def visible_to(agent: User | None) -> Q:
    """The conversations an agent may see: sites they are assigned to, and sites with no one assigned.

    Superusers, and callers acting for no particular agent (None), see every site.
    """
    if agent is None or agent.is_superuser:
        return Q()
    return Q(site__agents=None) | Q(site__agents=agent)


def find_conversation(public_id: object, agent: User | None = None) -> int | None:
    try:
        found = Conversation.objects.filter(visible_to(agent), public_id=str(public_id))
        return found.values_list("pk", flat=True).distinct().first()
    except (ValueError, TypeError, ValidationError):
        return None


def history_frames(conversation_id: int) -> list[dict[str, Any]]:
    return [message_frame(m) for m in conversations.history(conversation_id)]


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
        with override(_language(conversation.pk)):
            text = _("The agent got disconnected. You're back in the queue; the next available agent will join.")
        message = _system(conversation.pk, text)
        result.append((conversation, Reply(messages=[message], status=Status.WAITING, handoff=True)))
    return result


def queue(agent: User | None = None) -> list[dict[str, Any]]:
    """The console's list: waiting first (oldest first), then human-owned, offline messages, recent bot chats.

    A bot chat where the customer never wrote is not listed; each row's preview is the customer's
    last message (plain text, as they typed it), with who they are when known.
    """
    now = timezone.now()
    order: dict[str, int] = {Status.WAITING: 0, Status.HUMAN: 1, Status.OFFLINE: 2, Status.BOT: 3}
    last_text = Message.objects.filter(conversation=OuterRef("pk"), sender=Message.Sender.CUSTOMER).order_by(
        "-seq").values("text")[:1]
    listed = (Conversation.objects.filter(visible_to(agent)).distinct()
              .select_related("agent", "site", "visitor").annotate(last_text=Subquery(last_text)))
    # Every chat that needs a person is listed, however many bot chats moved since: a flood of
    # new conversations cannot push a waiting customer off the list (issue 14, item 4).
    rows = list(listed.filter(status__in=[Status.WAITING, Status.HUMAN, Status.OFFLINE]))
    rows += list(
        listed.filter(status=Status.BOT)
        .filter(Exists(Message.objects.filter(conversation=OuterRef("pk"), sender=Message.Sender.CUSTOMER)))
        .order_by("-updated")[:100]
    )
    rows.sort(key=lambda c: (order.get(c.status, 4), c.waiting_since or now, -c.updated.timestamp()))
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
                "email": c.visitor.email,
                "name": c.visitor.name,
                "page": c.page,
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


def conversation_group(public_id: Any) -> str:
    """The channel-layer group of a conversation's sockets (customer tabs and watching agents)."""
    return f"conv.{str(public_id).replace('-', '')}"


def reply_frames(public_id: str, reply: Reply) -> list[dict[str, Any]]:
    """The frames that tell a conversation's sockets what an action stored and changed."""
    frames: list[dict[str, Any]] = []
    if reply.status:
        frames.append({"type": "status", "status": reply.status, "offer_email": reply.offer_email})
    frames.extend(message_frame(message) for message in reply.messages)
    return [{**frame, "conversation": public_id} for frame in frames]


def publish(results: list[tuple[Conversation, Reply]]) -> None:
    """Deliver replies made outside a socket (a periodic task) through the channel layer."""
    if not results:
        return
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return

    async def send() -> None:
        for conversation, reply in results:
            group = conversation_group(conversation.public_id)
            for frame in reply_frames(str(conversation.public_id), reply):
                await layer.group_send(group, {"type": "chat.frame", "frame": frame, "origin": ""})
        await notify_queue(layer)

    async_to_sync(send)()


async def notify_queue(channel_layer: Any) -> None:
    """Tell every agent console to refresh its queue."""
    await channel_layer.group_send(AGENTS_GROUP, {"type": "agent.queue"})
