"""The reply policy: every decision about what the bot says lives here, top to bottom.

For one customer message, reading the current bundle once:
  0. a human owns the chat (or it waits for one) → the bot stays silent;
  1. the customer asks for a person (the intent, the button, plain words) → hand off;
  2. a confident intent with a curated answer → that answer;
  3. otherwise a close approved past ticket → its resolution, saying where it comes from;
  4. otherwise two or three plausible intents → "did you mean" buttons;
  5. otherwise → an honest fallback that offers a human.
Confidence thresholds are the model's own (calibrated, per intent), read from the prediction.
"""

from __future__ import annotations

import re

from chat import conversations, handoff
from chat.conversations import Reply
from chat.catalog import catalog
from chat.models import Conversation, Message
from chat.registry import current
from retrieval.models import Ticket
from retrieval.tickets import approved_tickets

TALK_TO_PERSON = "Talk to a person"
FALLBACK_TEXT = (
    "Sorry, I'm not sure I can help with that. Could you rephrase it? "
    "If you prefer, I can connect you with a person."
)
CLARIFY_TEXT = "I'm not completely sure what you mean. Did you mean one of these?"
TICKET_PREFIX = "A customer with a similar question was helped with this:\n\n"
ASK_FOR_HUMAN = re.compile(
    r"\b(talk|speak|chat|connect|transfer|put me through)\b.*\b(human|person|agent|someone|somebody|"
    r"representative|operator|staff)\b|^\s*(human|agent|operator|representative)\s*[.!?]*\s*$",
    re.IGNORECASE,
)
# A past ticket must be at least this similar (cosine) to be offered as an answer.
TICKET_MIN_SCORE = 0.80
# "Did you mean" offers intents whose probability is at least this share of the top one.
CLARIFY_MIN_SHARE = 0.35
CLARIFY_MIN_PROB = 0.15


def _bot(conversation_id: int, text: str, source: str, version: str, **fields: object) -> Reply:
    # The bot's message may be committed without waiting for the disk flush: if it were lost
    # in a database crash, the customer's message would again be the last one, and the resend
    # that every client makes after a reconnect is answered anew (conversations.Received).
    message = conversations.append(
        conversation_id, Message.Sender.BOT, text, source=source, model_version=version, durable=False, **fields
    )
    return Reply(messages=[message])


def respond(conversation_id: int, text: str, status: str | None = None) -> Reply:
    """Decide and store the bot's answer to one customer message (`status`: as stored with it)."""
    if status is None:
        status = Conversation.objects.values_list("status", flat=True).get(pk=conversation_id)
    if status in (Conversation.Status.WAITING, Conversation.Status.HUMAN):
        return Reply()
    if text.strip().lower() == TALK_TO_PERSON.lower() or ASK_FOR_HUMAN.search(text):
        return handoff.request(conversation_id, "customer asked for a person")

    bundle = current()
    version = bundle.version
    chosen = catalog.by_description(text)
    if chosen is not None and chosen.answer:
        return _bot(
            conversation_id, chosen.answer, Message.Source.ANSWER, version,
            intent=chosen.name, confidence=1.0, suggestions=chosen.quick_replies,
        )
    prediction = bundle.predict(text)
    confidence = prediction.confidence

    if prediction.intent:
        intent = catalog.get(prediction.intent)
        if intent is not None and intent.handoff:
            return handoff.request(conversation_id, f"customer asked for a person ({intent.name})")
        if intent is not None and intent.answer:
            return _bot(
                conversation_id, intent.answer, Message.Source.ANSWER, version,
                intent=intent.name, confidence=confidence, suggestions=intent.quick_replies,
            )

    ticket = _closest_ticket(bundle, text)
    if ticket is not None:
        found, score = ticket
        return _bot(
            conversation_id, TICKET_PREFIX + found.resolution, Message.Source.TICKET, version,
            intent=prediction.intent or found.intent, confidence=score, ticket=found,
            suggestions=[TALK_TO_PERSON],
        )

    options = _plausible(prediction.ranking)
    if len(options) >= 2:
        return _bot(
            conversation_id, CLARIFY_TEXT, Message.Source.CLARIFY, version,
            intent=prediction.ranking[0][0], confidence=confidence, suggestions=[*options, TALK_TO_PERSON],
        )

    return _bot(
        conversation_id, FALLBACK_TEXT, Message.Source.FALLBACK, version,
        intent=prediction.intent or "", confidence=confidence, suggestions=[TALK_TO_PERSON],
    )


def _closest_ticket(bundle: object, text: str) -> tuple[Ticket, float] | None:
    """The most similar approved ticket above the bar; unapproved tickets are never shown."""
    min_score = getattr(bundle, "ticket_min_score", TICKET_MIN_SCORE)
    hits = [hit for hit in bundle.search(text, 3) if hit.score >= min_score]  # type: ignore[attr-defined]
    found = approved_tickets(hits)
    return found[0] if found else None


def _plausible(ranking: list[tuple[str, float]]) -> list[str]:
    """Up to three intents close enough to the top one to ask about, by their example-facing names."""
    if not ranking:
        return []
    top = ranking[0][1]
    names = [name for name, p in ranking[:3] if p >= CLARIFY_MIN_PROB and p >= CLARIFY_MIN_SHARE * top]
    answers = [a for a in (catalog.get(name) for name in names) if a is not None and a.answer]
    return [a.description or a.name.replace("_", " ") for a in answers]
