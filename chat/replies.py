"""The reply policy: every decision about what the bot says lives here, top to bottom.

For one customer message, reading the current bundle once:
  0. a human owns the chat → the bot stays silent (while the chat waits for one, it answers);
  1. the customer asks for a person (the intent, the button, plain words) → hand off (asked
     again while waiting: where they stand); plain frustration or an insult → offer a person;
  2. a confident intent with a curated answer → that answer;
  3. otherwise a close approved past ticket → its resolution, saying where it comes from;
  4. otherwise two or three plausible intents → "did you mean" buttons;
  5. otherwise → an honest fallback that offers a human.
Confidence thresholds are the model's own (calibrated, per intent), read from the prediction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chat import conversations, handoff
from chat.conversations import Outgoing, Reply
from knowledge.catalog import catalog
from chat.models import Conversation, Message
from retrieval.calibration import UNCALIBRATED
from serving.registry import current
from knowledge.models import Ticket
from knowledge.tickets import approved_tickets

TALK_TO_PERSON = "Talk to a person"
FALLBACK_TEXT = (
    "Sorry, I'm not sure I can help with that. Could you rephrase it? "
    "If you prefer, I can connect you with a person."
)
# While the chat waits for a person the fallback offers nothing new: the person will read it.
WAITING_FALLBACK_TEXT = (
    "Sorry, I can't answer that myself. A person will see your message when they take the chat."
)
OFFER_TEXT = "I'm sorry this is frustrating. Would you like me to connect you with a person?"
CLARIFY_TEXT = "I'm not completely sure what you mean. Did you mean one of these?"
TICKET_PREFIX = "A customer with a similar question was helped with this:\n\n"
ASK_FOR_HUMAN = re.compile(
    r"\b(talk|speak|chat|connect|transfer|put me through)\b.*\b(human|person|agent|someone|somebody|"
    r"representative|operator|staff)\b|^\s*(human|agent|operator|representative)\s*[.!?]*\s*$",
    re.IGNORECASE,
)
# Frustration, swearing or an insult: not a request for a person, but a reason to offer one.
FRUSTRATED = re.compile(
    r"\b(useless|stupid|idiot\w*|dumb|rubbish|garbage|crap\w*|shit\w*|f+u+c+k\w*|wtf|damn\w*|"
    r"ridiculous|pathetic|terrible|awful|hopeless|annoying|waste of (my )?time|not helping|"
    r"doesn'?t help|you suck|sucks)\b",
    re.IGNORECASE,
)
# A past ticket must be at least this similar (cosine) to be offered as an answer: the bar the
# index calibrated when it was built, else retrieval's uncalibrated default (one value, one home).
TICKET_MIN_SCORE = UNCALIBRATED
# "Did you mean" offers intents whose probability is at least this share of the top one.
CLARIFY_MIN_SHARE = 0.35
CLARIFY_MIN_PROB = 0.15


@dataclass(frozen=True)
class Question:
    """One stored customer message waiting for the bot's answer."""

    conversation_id: int
    text: str
    status: str | None = None  # the conversation's status when the message was stored
    message_id: int | None = None  # the stored customer message (its answer points back to it)


@dataclass
class _Answer:
    """What the bot will say (stored later, together with the batch's other answers)."""

    text: str
    source: str
    fields: dict[str, Any]


def respond(conversation_id: int, text: str, status: str | None = None) -> Reply:
    """Decide and store the bot's answer to one customer message (`status`: as stored with it)."""
    return respond_many([Question(conversation_id, text, status)])[0]


def respond_many(questions: list[Question], *, again: bool = False) -> list[Reply]:
    """Decide and store the answers to many customer messages, reading the current bundle once.

    The decisions are the ones described at the top, made for each message; the work is shared:
    one batch through the intent model, one ticket search, one query for the tickets, and one
    transaction storing every answer. `again`: this batch may have been answered already (its
    helper process died before handing the answers back); stored answers are handed back.
    """
    bundle = current()
    replies: list[Reply | None] = [None] * len(questions)
    answers: dict[int, _Answer] = {}
    unsure: list[int] = []  # no curated answer: try tickets, then clarify, then fallback

    def hand_off(i: int, reason: str) -> None:
        replies[i] = handoff.request(questions[i].conversation_id, reason)

    stored_before = {
        message.reply_to_id: message
        for message in Message.objects.filter(reply_to_id__in=[q.message_id for q in questions if q.message_id])
    } if again else {}
    pending = []
    statuses: dict[int, str] = {}
    for i, question in enumerate(questions):
        status = statuses[i] = question.status or Conversation.objects.values_list("status", flat=True).get(
            pk=question.conversation_id
        )
        if question.message_id in stored_before:
            replies[i] = Reply(messages=[stored_before[question.message_id]])
        elif status == Conversation.Status.HUMAN:
            replies[i] = Reply()
        elif question.text.strip().lower() == TALK_TO_PERSON.lower() or ASK_FOR_HUMAN.search(question.text):
            hand_off(i, "customer asked for a person")
        elif FRUSTRATED.search(question.text):
            if status == Conversation.Status.WAITING:
                hand_off(i, "customer asked for a person")  # where they stand in the queue
            else:
                answers[i] = _Answer(OFFER_TEXT, Message.Source.OFFER, {"suggestions": [TALK_TO_PERSON]})
        elif (chosen := catalog.by_description(question.text)) is not None and chosen.answer:
            answers[i] = _Answer(chosen.answer, Message.Source.ANSWER,
                                 {"intent": chosen.name, "confidence": 1.0, "suggestions": chosen.quick_replies})
        else:
            pending.append(i)

    predictions = dict(zip(pending, bundle.predict_many([questions[i].text for i in pending]), strict=True))
    for i, prediction in predictions.items():
        intent = catalog.get(prediction.intent) if prediction.intent else None
        if intent is not None and intent.handoff:
            hand_off(i, f"customer asked for a person ({intent.name})")
        elif intent is not None and intent.answer:
            answers[i] = _Answer(intent.answer, Message.Source.ANSWER, {
                "intent": intent.name, "confidence": prediction.confidence, "suggestions": intent.quick_replies})
        else:
            unsure.append(i)

    tickets = _closest_tickets(bundle, [questions[i].text for i in unsure])
    for i, ticket in zip(unsure, tickets, strict=True):
        prediction = predictions[i]
        if ticket is not None:
            found, score = ticket
            answers[i] = _Answer(TICKET_PREFIX + found.resolution, Message.Source.TICKET, {
                "intent": prediction.intent or found.intent, "confidence": score, "ticket": found,
                "suggestions": [TALK_TO_PERSON]})
        elif len(options := _plausible(prediction.ranking)) >= 2:
            answers[i] = _Answer(CLARIFY_TEXT, Message.Source.CLARIFY, {
                "intent": prediction.ranking[0][0], "confidence": prediction.confidence,
                "suggestions": [*options, TALK_TO_PERSON]})
        elif statuses[i] == Conversation.Status.WAITING:
            answers[i] = _Answer(WAITING_FALLBACK_TEXT, Message.Source.FALLBACK, {
                "intent": prediction.intent or "", "confidence": prediction.confidence})
        else:
            answers[i] = _Answer(FALLBACK_TEXT, Message.Source.FALLBACK, {
                "intent": prediction.intent or "", "confidence": prediction.confidence,
                "suggestions": [TALK_TO_PERSON]})

    # The bot's messages may be committed without waiting for the disk flush: if one were lost
    # in a database crash, the customer's message would again be the last one, and the resend
    # that every client makes after a reconnect is answered anew (conversations.Received).
    order = sorted(answers)
    stored = conversations.append_many(
        [
            Outgoing(questions[i].conversation_id, Message.Sender.BOT, answers[i].text,
                     {"source": answers[i].source, "model_version": bundle.version,
                      "reply_to_id": questions[i].message_id, **answers[i].fields})
            for i in order
        ],
        durable=False,
    )
    for i, message in zip(order, stored, strict=True):
        replies[i] = Reply(messages=[message])
    return [reply if reply is not None else Reply() for reply in replies]


def respond_again(questions: list[Question]) -> list[Reply]:
    """`respond_many` for a batch that may have been answered already."""
    return respond_many(questions, again=True)


def _closest_tickets(bundle: Any, texts: list[str]) -> list[tuple[Ticket, float] | None]:
    """For each text, the most similar approved ticket above the bar (unapproved ones are never shown)."""
    if not texts:
        return []
    min_score = getattr(bundle, "ticket_min_score", TICKET_MIN_SCORE)
    hits = [[hit for hit in found if hit.score >= min_score] for found in bundle.search_many(texts, 3)]
    approved = {ticket.id: ticket for ticket, _ in approved_tickets(hit for found in hits for hit in found)}
    return [
        next(((approved[hit.ticket_id], hit.score) for hit in found if hit.ticket_id in approved), None)
        for found in hits
    ]


def _plausible(ranking: list[tuple[str, float]]) -> list[str]:
    """Up to three intents close enough to the top one to ask about, by their example-facing names."""
    if not ranking:
        return []
    top = ranking[0][1]
    names = [name for name, p in ranking[:3] if p >= CLARIFY_MIN_PROB and p >= CLARIFY_MIN_SHARE * top]
    answers = [a for a in (catalog.get(name) for name in names) if a is not None and a.answer]
    return [a.description or a.name.replace("_", " ") for a in answers]
