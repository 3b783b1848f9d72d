"""The review queue: bot answers ranked by how likely they were wrong, and labelling them.

A review item is a customer message together with the bot message that answered it. Its
score adds up the signals that the answer missed: low confidence, the fallback, a "did you
mean" whose buttons were not taken, a handoff, thumbs down, an agent who took over after it.
Labelling turns the customer's (redacted) words into a training example.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef

from chat.models import Message
from knowledge.markup import sanitize_answer
from knowledge.models import Intent, TrainingExample
from privacy.redaction import redact

WEIGHTS = {
    "fallback": 1.0,
    "clarify_not_taken": 0.8,
    "handoff": 1.0,
    "thumbs_down": 1.5,
    "agent_took_over": 1.0,
}


@dataclass
class ReviewItem:
    question: Message  # the customer's message
    answer: Message | None  # what the bot said to it (None: a handoff straight away)
    score: float
    reasons: list[str]
    context: list[Message]


def _signals(question: Message, answer: Message | None, following: list[Message]) -> list[str]:
    reasons = []
    if answer is None or answer.sender == Message.Sender.SYSTEM:
        reasons.append("handoff")
    else:
        if answer.source == Message.Source.FALLBACK:
            reasons.append("fallback")
        if answer.source == Message.Source.CLARIFY:
            chosen = next((m for m in following if m.sender == Message.Sender.CUSTOMER), None)
            if chosen is None or chosen.text not in (answer.suggestions or []):
                reasons.append("clarify_not_taken")
        if answer.feedback == Message.Feedback.DOWN:
            reasons.append("thumbs_down")
    if any(m.sender == Message.Sender.AGENT for m in following):
        reasons.append("agent_took_over")
    return reasons


def _answered_by_the_bot(question: Message, answer: Message | None) -> bool:
    """The bot answered it, or handed the chat to a person right after it (its decision too)."""
    if answer is None:
        return False
    return answer.sender == Message.Sender.BOT or (
        answer.sender == Message.Sender.SYSTEM and answer.seq == question.seq + 1)


def queue(limit: int = 50, scan: int = 2000) -> list[ReviewItem]:
    """Unlabelled customer messages, most likely misunderstood first."""
    labelled = TrainingExample.objects.filter(message_id=OuterRef("pk"))
    questions = (
        Message.objects.filter(sender=Message.Sender.CUSTOMER, reviewed=False)
        .annotate(done=Exists(labelled))
        .filter(done=False)
        .select_related("conversation", "conversation__rating")
        .order_by("-created")[:scan]
    )
    items = []
    for question in questions:
        around = list(
            Message.objects.filter(conversation=question.conversation, seq__gte=question.seq - 3, seq__lte=question.seq + 4)
            .order_by("seq")
        )
        after = [m for m in around if m.seq > question.seq]
        answer = next((m for m in after if m.sender != Message.Sender.CUSTOMER), None)
        if not _answered_by_the_bot(question, answer):
            continue  # written to a person: nothing the bot decided
        following = [m for m in after if answer is None or m.seq > answer.seq]
        reasons = _signals(question, answer, following)
        confidence = answer.confidence if answer is not None and answer.confidence is not None else 0.0
        score = (1.0 - confidence) + sum(WEIGHTS[r] for r in reasons)
        if reasons or confidence < 0.6:
            for message in around:  # curated answers are shown as customers saw them (safe markup)
                if message.sender == Message.Sender.BOT and message.source == Message.Source.ANSWER:
                    message.html = sanitize_answer(message.text)  # type: ignore[attr-defined]  # a display-only attribute for the template
            items.append(ReviewItem(question, answer, round(score, 3), reasons or ["low_confidence"], around))
    items.sort(key=lambda item: -item.score)
    return items[:limit]


@transaction.atomic
def label(message: Message, *, intent: Intent | None = None, out_of_scope: bool = False) -> TrainingExample:
    """Make the customer's message a training example for `intent`, or an out-of-scope one."""
    if (intent is None) == (not out_of_scope):
        raise ValueError("give exactly one of an intent or out_of_scope")
    example = TrainingExample.objects.create(
        text=redact(message.text), intent=intent, is_oos=out_of_scope,
        origin=TrainingExample.Origin.REVIEW, message_id=message.pk,
    )
    Message.objects.filter(pk=message.pk).update(reviewed=True)
    return example


@transaction.atomic
def label_new_intent(message: Message, name: str, answer: str, description: str = "") -> TrainingExample:
    intent, _ = Intent.objects.get_or_create(name=name, defaults={"answer": answer, "description": description})
    return label(message, intent=intent)


def dismiss(message: Message) -> None:
    """The bot was right after all: drop the item from the queue without a label."""
    Message.objects.filter(pk=message.pk).update(reviewed=True)
