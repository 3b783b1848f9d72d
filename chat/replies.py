"""The reply policy: every decision about what the bot says lives here, top to bottom.

For one customer message, reading the current bundle once:
  0. a human owns the chat → the bot stays silent (while the chat waits for one, it answers);
  1. the customer asks for a person (the intent, the button, plain words) → hand off (asked
     again while waiting: where they stand); plain frustration or an insult → offer a person;
  2. the message is in another language than the site's → an honest reply that offers a person;
  3. a "did you mean" or quick-reply button → that answer.
Otherwise curated answers, approved tickets, a question back and the fallback compete on
evidence. The intent model gives its prediction (calibrated, per-intent thresholds); the
bundle's ticket space gives, for the same message, the nearest approved ticket, the nearest
example of each intent and the nearest out-of-scope example, all on one similarity scale
(retrieval.examples), so a ticket and an intent can be compared:
  4. a vague message (one or two words, no chit-chat) → "did you mean" with the likely topics;
  5. a ticket about as close as any intent's examples, closer than out-of-scope → it (a ticket
     on another topic nearly as close → "did you mean" with both questions);
  6. a sure intent, or a confident one whose examples are close, or the model's top intent when
     it is also the intent with the nearest examples, closer than out-of-scope and clearly
     closer than any ticket → its answer;
  7. a message close to some intents' examples but to none decisively → "did you mean" (with
     the nearest ticket's question among the choices when it is close too);
  8. otherwise → an honest fallback that offers a human.
An answer whose intent has a lookup (chat/lookups.py) comes from the shop's system instead: the
values it needs are taken from the message, asked for when missing ("What is your order number?",
and the next message that gives it continues the lookup), then fetched; a failure is said so.
Every bot message records why: source, intent or ticket, confidence (the deciding score).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.translation import gettext, gettext_noop, override

from chat import handoff, languages, lookups, store
from chat.conversations import Reply
from chat.store import Outgoing
from chat.models import Conversation, Message
from knowledge.catalog import catalog
from knowledge.models import Ticket
from knowledge.tickets import approved_tickets
from retrieval.calibration import UNCALIBRATED
from serving.registry import current

if TYPE_CHECKING:  # numpy's modules: a web process imports this module for Question, and answers in helpers
    from retrieval.examples import Nearest
    from serving.intents import Prediction

# The bot's own words, in English here and in the site's language when stored (`_in_language`).
TALK_TO_PERSON = gettext_noop("Talk to a person")
FALLBACK_TEXT = gettext_noop(
    "Sorry, I'm not sure I can help with that. Could you rephrase it? "
    "If you prefer, I can connect you with a person."
)
CLARIFY_TEXT = gettext_noop("I'm not completely sure what you mean. Did you mean one of these?")
VAGUE_TEXT = gettext_noop("Could you tell me a bit more? Here are some things I can help with:")
LANGUAGE_TEXT = (
    "Sorry, I can only answer in English for now, and I don't want to guess what you mean. "
    "You can write your question in English, or I can connect you with a person."
)
# While the chat waits for a person the fallback offers nothing new: the person will read it.
WAITING_FALLBACK_TEXT = gettext_noop(
    "Sorry, I can't answer that myself. A person will see your message when they take the chat."
)
OFFER_TEXT = gettext_noop("I'm sorry this is frustrating. Would you like me to connect you with a person?")
TICKET_PREFIX = gettext_noop("A customer with a similar question was helped with this:") + "\n\n"
# LANGUAGE_TEXT stays English: it answers a message that was not written in the site's language.
OWN_WORDS = (FALLBACK_TEXT, WAITING_FALLBACK_TEXT, OFFER_TEXT, CLARIFY_TEXT, VAGUE_TEXT)
ASK_FOR_HUMAN = re.compile(
    r"\b(talk|speak|chat|connect|transfer|put me through|get me|call me)\b.*\b(human|person|agent|someone|somebody|"
    r"representative|operator|staff|colleague|employee|manager|supervisor)s?\b"
    r"|\b(someone|somebody|member of staff|staff member|an? (human|person|employee|agent))\b.*\b(call me|take over|"
    r"get back to me|ring me)\b"
    r"|^\s*(a |an )?(real |live |actual )?(human|person|agent|operator|representative)( please| pls)?\s*[.!?]*\s*$",
    re.IGNORECASE,
)
# Frustration, swearing or an insult: not a request for a person, but a reason to offer one.
FRUSTRATED = re.compile(
    r"\b(useless|stupid|idiot\w*|dumb|rubbish|garbage|crap\w*|shit\w*|f+u+c+k\w*|wtf|damn\w*|"
    r"ridiculous|pathetic|terrible|awful|hopeless|annoying|waste of (my )?time|not helping|"
    r"doesn'?t help|you suck|sucks|fed up|sick of|incompetent|unbelievable|disgrac\w*|(is|are|what) a joke|worst|"
    r"angry|furious|annoyed|unacceptable|outrageous|pointless|rip.?off|are you kidding|(bad|poor) (service|support)|"
    r"(nobody|no one) (ever )?(answers|helps|replies)|"
    r"you('re| are)? (not|don'?t|never) (understand|listen)\w*|not understanding me)\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[^\W_]+")
# A request for help that names no topic ("hi, can you help me", "I have a question") is vague
# however long: it has a word of the first set and no word outside the two.
ASKS_FOR_HELP = frozenset("help question questions problem problems issue issues query something assist assistance".split())
NO_TOPIC = frozenset(
    "i i'm im me my you your can could would will please pls a an have has got need want with some quick small little "
    "one hi hello hey there anyone is are do to the am it this that about good morning afternoon evening hope ask "
    "just so really again there's s m ve d".split()
)

# The evidence bars, on the ticket space's similarity scale (a message against its own text
# scores 1). Tuned on bench/data/shop_dev.jsonl only, counting a confidently wrong reply as
# twice the cost of a missed right one; judged on the held-out sets (docs/conversations.md).
# A message of at most this many words is vague unless it is chit-chat (greeting, thanks).
VAGUE_WORDS = 2
# A ticket needs at least this similarity, must come within TICKET_MARGIN of every intent's
# nearest example (a ticket is one question against some 50 examples per intent, so the best of
# many is favoured: a near tie goes to the ticket, but only while the model names no intent; an
# intent it predicts above its own threshold gets no such allowance: "I need to put my new
# surname on my profile" is not about deleting the account) and beat the nearest out-of-scope
# example by TICKET_OOS_MARGIN (a ticket is often found through one shared word: "my neighbour
# parks in my spot" is not about a parcel left with a neighbour).
TICKET_FLOOR = 0.42
TICKET_MARGIN = -0.02
TICKET_OOS_MARGIN = 0.08
# The nearest tickets looked at; a ticket on another topic (another resolution) within
# TICKET_TIE of the best one makes a close call: "did you mean" with both questions.
TICKET_CANDIDATES = 5
TICKET_TIE = 0.03
# The model alone decides from this confidence on; below it, a curated answer needs its
# intent's nearest example at least ANSWER_FLOOR close.
SURE_CONFIDENCE = 0.90
ANSWER_FLOOR = 0.50
# When the model is unsure (below its own threshold) but its top intent is also the one whose
# examples are nearest, that agreement answers, if those examples are AGREEMENT_FLOOR close and
# AGREEMENT_MARGIN closer than out-of-scope and AGREEMENT_TICKET_MARGIN closer than the nearest
# ticket (over TICKET_FLOOR); else that ticket's question is one of the "did you mean" choices.
AGREEMENT_FLOOR = 0.40
AGREEMENT_MARGIN = 0.06
AGREEMENT_TICKET_MARGIN = 0.10
# Below this, nothing is close enough to ask about: the fallback.
CLARIFY_FLOOR = 0.35
CLARIFY_OPTIONS = 3
# Without examples in the ticket space, a ticket must reach the index's calibrated bar, else
# retrieval's uncalibrated default (one value, one home).
TICKET_MIN_SCORE = UNCALIBRATED
# Without examples in the ticket space (an old bundle, a test fake) only the model speaks:
# "did you mean" offers intents whose probability is at least this share of the top one.
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
    handoff: bool = False  # not a message: the customer is handed to a person


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

    def hand_off(i: int, reason: str) -> None:
        replies[i] = handoff.request(questions[i].conversation_id, reason)

    stored_before = {
        message.reply_to_id: message
        for message in Message.objects.filter(reply_to_id__in=[q.message_id for q in questions if q.message_id])
    } if again else {}
    pending = []
    statuses: dict[int, str] = {}
    jobs: dict[int, lookups.Job] = {}
    site_languages, asked = _chats([q.conversation_id for q in questions])
    for i, question in enumerate(questions):
        status = statuses[i] = question.status or Conversation.objects.values_list("status", flat=True).get(
            pk=question.conversation_id
        )
        if question.message_id in stored_before:
            replies[i] = Reply(messages=[stored_before[question.message_id]])
        elif status == Conversation.Status.HUMAN:
            replies[i] = Reply()
        elif is_talk_to_person(question.text) or ASK_FOR_HUMAN.search(question.text):
            hand_off(i, "customer asked for a person")
        elif FRUSTRATED.search(question.text):
            if status == Conversation.Status.WAITING:
                hand_off(i, "customer asked for a person")  # where they stand in the queue
            else:
                answers[i] = _Answer(OFFER_TEXT, Message.Source.OFFER, {"suggestions": [TALK_TO_PERSON]})
        elif (job := _continued_lookup(question, asked)) is not None:
            jobs[i] = job
        elif (chosen := catalog.by_description(question.text)) is not None and chosen.answer:
            answers[i] = _Answer(chosen.answer, Message.Source.ANSWER,
                                 {"intent": chosen.name, "confidence": 1.0, "suggestions": chosen.quick_replies})
        else:
            pending.append(i)

    understood = []
    for i in pending:
        site_language = site_languages.get(questions[i].conversation_id, "en")
        language = languages.detect(questions[i].text, site_language)
        if language != site_language:
            answers[i] = _Answer(LANGUAGE_TEXT.format(language=LANGUAGE_NAMES.get(site_language, site_language)),
                                 Message.Source.FALLBACK,
                                 {"intent": f"language:{language}", "confidence": None, "suggestions": [TALK_TO_PERSON]})
        else:
            understood.append(i)

    texts = [questions[i].text for i in understood]
    predictions = bundle.predict_many(texts)
    evidence = bundle.evidence_many(texts, TICKET_CANDIDATES)
    tickets = _approved([hits for hits, _ in evidence])
    for i, prediction, (hits, nearest) in zip(understood, predictions, evidence, strict=True):
        found = [(tickets[hit.ticket_id], hit.score) for hit in hits if hit.ticket_id in tickets]
        ticket = found[0] if found else None
        decision = decide(questions[i].text, prediction, nearest, ticket, bundle, runner_up=_runner_up(found))
        if decision.handoff:
            hand_off(i, f"customer asked for a person ({decision.fields['intent']})")
        elif decision.source == Message.Source.FALLBACK and statuses[i] == Conversation.Status.WAITING:
            answers[i] = _Answer(WAITING_FALLBACK_TEXT, Message.Source.FALLBACK, {
                "intent": decision.fields["intent"], "confidence": decision.fields["confidence"]})
        else:
            answers[i] = decision

    _answer_lookups(questions, answers, jobs, asked)

    # The bot's messages may be committed without waiting for the disk flush: if one were lost
    # in a database crash, the customer's message would again be the last one, and the resend
    # that every client makes after a reconnect is answered anew (store.Received).
    order = sorted(answers)
    for i in order:
        _in_language(answers[i], site_languages.get(questions[i].conversation_id, "en"))
    stored = store.append_many(
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


def _in_language(answer: _Answer, language: str) -> None:
    """The bot's own words (fallback, clarify, offer, the ticket preamble, the person button) in the site's language."""
    if language.startswith("en"):
        return
    with override(language):
        if answer.text in OWN_WORDS:
            answer.text = gettext(answer.text)
        elif answer.source == Message.Source.TICKET and answer.text.startswith(TICKET_PREFIX):
            answer.text = gettext(TICKET_PREFIX.strip()) + "\n\n" + answer.text[len(TICKET_PREFIX):]
        suggestions = answer.fields.get("suggestions")
        if suggestions:
            answer.fields["suggestions"] = [gettext(TALK_TO_PERSON) if s == TALK_TO_PERSON else s for s in suggestions]


@functools.cache
def _talk_to_person_labels() -> frozenset[str]:
    labels = {TALK_TO_PERSON.lower()}
    for code, _name in settings.LANGUAGES:
        with override(code):
            labels.add(gettext(TALK_TO_PERSON).lower())
    return frozenset(labels)


def is_talk_to_person(text: str) -> bool:
    """Whether the text is the "Talk to a person" button's label, in any language the product ships."""
    return text.strip().lower() in _talk_to_person_labels()


def respond_again(questions: list[Question]) -> list[Reply]:
    """`respond_many` for a batch that may have been answered already."""
    return respond_many(questions, again=True)


def _continued_lookup(question: Question, asked: dict[int, dict[str, Any]]) -> lookups.Job | None:
    """The lookup this message continues: its chat was asked for a value, and the message has it."""
    state = asked.get(question.conversation_id)
    lookup = lookups.active([state["intent"]]).get(state["intent"]) if state else None
    if state is None or lookup is None:
        return None
    job = lookups.start(lookup, question.text, state.get("values") or {})
    return job if len(job.values) > len(state.get("values") or {}) else None


def _answer_lookups(questions: list[Question], answers: dict[int, _Answer], jobs: dict[int, lookups.Job],
                    asked: dict[int, dict[str, Any]]) -> None:
    """Curated answers backed by a lookup: ask for a missing value, or fetch and fill in (in place)."""
    backed = lookups.active(a.fields.get("intent", "") for a in answers.values() if a.source == Message.Source.ANSWER)
    for i, answer in answers.items():
        if answer.source == Message.Source.ANSWER and answer.fields.get("intent") in backed:
            jobs[i] = lookups.start(backed[answer.fields["intent"]], questions[i].text)
    ready = []
    for i, job in jobs.items():
        if job.missing:
            lookups.remember(questions[i].conversation_id, {"intent": job.lookup.intent.name, "values": job.values})
            answers[i] = _Answer(job.question(), Message.Source.LOOKUP, {
                "intent": job.lookup.intent.name, "confidence": None, "suggestions": [TALK_TO_PERSON]})
        else:
            ready.append(i)
    verified = lookups.customers(questions[i].conversation_id for i in ready) if ready else {}
    for i in ready:
        jobs[i].customer = verified.get(questions[i].conversation_id)
    for i, job in zip(ready, lookups.run_all([jobs[i] for i in ready]), strict=True):
        answers[i] = _Answer(job.text, Message.Source.LOOKUP, {
            "intent": job.lookup.intent.name, "confidence": None, "suggestions": [] if job.ok else [TALK_TO_PERSON]})
    # A chat that was asked for a value and got an answer to something else no longer waits for it.
    for i, question in enumerate(questions):
        if question.conversation_id in asked and (i not in jobs or not jobs[i].missing):
            lookups.remember(question.conversation_id, {})


LANGUAGE_NAMES = {"en": "English", "de": "German", "es": "Spanish", "fr": "French", "it": "Italian",
                  "nl": "Dutch", "pt": "Portuguese", "pl": "Polish"}


def decide(
    text: str, prediction: Prediction, nearest: Nearest, ticket: tuple[Ticket, float] | None, bundle: Any,
    runner_up: tuple[Ticket, float] | None = None,
) -> _Answer:
    """Steps 4-8 of the policy for one message in the site's language (see the top)."""
    top = prediction.ranking[0][0] if prediction.ranking else None
    intent = catalog.get(prediction.intent) if prediction.intent else None
    if not nearest.intents:
        min_score = getattr(bundle, "ticket_min_score", TICKET_MIN_SCORE)
        return _decide_by_model(prediction, intent, ticket if ticket and ticket[1] >= min_score else None)
    short_intents = bundle.short_intents
    closeness = nearest.of(top)
    words = len(WORD.findall(text))

    if intent is not None and intent.handoff:
        return _answer(intent, prediction.confidence)
    if (words <= VAGUE_WORDS and not (intent is not None and intent.name in short_intents)) or _topicless(text):
        return _clarify(VAGUE_TEXT, prediction, nearest, closeness)
    sure = intent is not None and prediction.confidence >= SURE_CONFIDENCE
    if ticket is not None:
        found, score = ticket
        margin = TICKET_MARGIN if intent is None else 0.0
        rival = max(closeness, nearest.best[1]) if nearest.best else closeness
        if score >= TICKET_FLOOR and score >= rival + margin and score >= nearest.out_of_scope + TICKET_OOS_MARGIN:
            if runner_up is not None and score - runner_up[1] < TICKET_TIE:
                # Two past questions about equally close: the customer picks (a button sends the
                # ticket's own question, which finds that ticket).
                return _Answer(CLARIFY_TEXT, Message.Source.CLARIFY, {
                    "intent": found.intent, "confidence": score, "ticket": found,
                    "suggestions": [found.question, runner_up[0].question, TALK_TO_PERSON]})
            return _Answer(TICKET_PREFIX + found.resolution, Message.Source.TICKET, {
                "intent": found.intent, "confidence": score, "ticket": found, "suggestions": [TALK_TO_PERSON]})
    if intent is not None and intent.answer and closeness >= nearest.out_of_scope and (
        sure or closeness >= ANSWER_FLOOR
    ):
        return _answer(intent, prediction.confidence)
    agreed = catalog.get(top) if top and nearest.best and nearest.best[0] == top else None
    # The model is unsure here, so a past ticket nearly as close is a real alternative: ask.
    rival_ticket = ticket if ticket is not None and ticket[1] >= TICKET_FLOOR else None
    if (agreed is not None and agreed.answer and not agreed.handoff and closeness >= AGREEMENT_FLOOR
            and closeness >= nearest.out_of_scope + AGREEMENT_MARGIN
            and (rival_ticket is None or closeness >= rival_ticket[1] + AGREEMENT_TICKET_MARGIN)):
        return _answer(agreed, prediction.confidence)
    if closeness >= CLARIFY_FLOOR and closeness >= nearest.out_of_scope and _options(prediction, nearest):
        return _clarify(CLARIFY_TEXT, prediction, nearest, closeness, rival_ticket)
    return _fallback(prediction)


def _decide_by_model(prediction: Prediction, intent: Any, ticket: tuple[Ticket, float] | None) -> _Answer:
    """A bundle without examples in the ticket space: a confident intent, else a ticket, else ask."""
    if intent is not None and (intent.answer or intent.handoff):
        return _answer(intent, prediction.confidence)
    if ticket is not None:
        found, score = ticket
        return _Answer(TICKET_PREFIX + found.resolution, Message.Source.TICKET, {
            "intent": prediction.intent or found.intent, "confidence": score, "ticket": found,
            "suggestions": [TALK_TO_PERSON]})
    if len(options := _plausible(prediction.ranking)) >= 2:
        return _Answer(CLARIFY_TEXT, Message.Source.CLARIFY, {
            "intent": prediction.ranking[0][0], "confidence": prediction.confidence,
            "suggestions": [*options, TALK_TO_PERSON]})
    return _fallback(prediction)


def _topicless(text: str) -> bool:
    words = {word.lower() for word in WORD.findall(text)}
    return bool(words & ASKS_FOR_HELP) and words <= ASKS_FOR_HELP | NO_TOPIC


def _answer(intent: Any, confidence: float) -> _Answer:
    """The intent's curated answer (or, for a hand-off intent, the hand-off)."""
    if intent.handoff:
        return _Answer("", Message.Source.HANDOFF, {"intent": intent.name, "confidence": confidence}, handoff=True)
    return _Answer(intent.answer, Message.Source.ANSWER, {
        "intent": intent.name, "confidence": confidence, "suggestions": intent.quick_replies})


def _clarify(text: str, prediction: Prediction, nearest: Nearest, closeness: float,
             ticket: tuple[Ticket, float] | None = None) -> _Answer:
    """A question back: the likely topics, and a close past ticket's question (its button finds it)."""
    options = _options(prediction, nearest)
    if not options:
        return _fallback(prediction)
    if ticket is not None:
        options = [options[0], ticket[0].question, *options[1:CLARIFY_OPTIONS - 1]]
    return _Answer(text, Message.Source.CLARIFY, {
        "intent": prediction.ranking[0][0] if prediction.ranking else "", "confidence": closeness,
        **({"ticket": ticket[0]} if ticket is not None else {}),
        "suggestions": [*options, TALK_TO_PERSON]})


def _fallback(prediction: Prediction) -> _Answer:
    return _Answer(FALLBACK_TEXT, Message.Source.FALLBACK, {
        "intent": prediction.intent or "", "confidence": prediction.confidence, "suggestions": [TALK_TO_PERSON]})


def _options(prediction: Prediction, nearest: Nearest) -> list[str]:
    """Up to three topics to ask about: the intents nearest in examples, then the model's ranking.

    Only intents with a curated answer qualify (never a hand-off or chit-chat without one),
    labelled as their buttons are (the description), which picks the answer when clicked.
    """
    names = [name for name, _ in list(nearest.intents.items())[:CLARIFY_OPTIONS]]
    names += [name for name, _ in prediction.ranking[:CLARIFY_OPTIONS]]
    options: list[str] = []
    for name in dict.fromkeys(names):
        answer = catalog.get(name)
        if answer is not None and answer.answer and not answer.handoff and answer.description:
            options.append(answer.description)
    return options[:CLARIFY_OPTIONS]


def _chats(conversation_ids: list[int]) -> tuple[dict[int, str], dict[int, dict[str, Any]]]:
    """Each conversation's site language, and the lookup values it was asked for (lookups.pending), in one query."""
    languages: dict[int, str] = {}
    asked: dict[int, dict[str, Any]] = {}
    for pk, language, state in Conversation.objects.filter(pk__in=set(conversation_ids)).values_list(
            "pk", "site__language", "pending_lookup"):
        languages[pk] = language
        if state:
            asked[pk] = state
    return languages, asked


def _runner_up(found: list[tuple[Ticket, float]]) -> tuple[Ticket, float] | None:
    """The best ticket on another topic than the best one, if any among the hits.

    A ticket's topic is its resolution: several customers' wordings of one question share it.
    """
    best = found[0][0].resolution if found else None
    return next(((ticket, score) for ticket, score in found if ticket.resolution != best), None)


def _approved(found: list[list[Any]]) -> dict[int, Ticket]:
    """The approved tickets among all hits of a batch, in one query (unapproved ones are never shown)."""
    return {ticket.id: ticket for ticket, _ in approved_tickets(hit for hits in found for hit in hits)}


def _plausible(ranking: list[tuple[str, float]]) -> list[str]:
    """Up to three intents close enough to the top one to ask about, by their example-facing names."""
    if not ranking:
        return []
    top = ranking[0][1]
    names = [name for name, p in ranking[:3] if p >= CLARIFY_MIN_PROB and p >= CLARIFY_MIN_SHARE * top]
    answers = [a for a in (catalog.get(name) for name in names) if a is not None and a.answer]
    return [a.description or a.name.replace("_", " ") for a in answers]
