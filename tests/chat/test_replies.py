"""The open-world reply policy: answers, tickets, questions back and fallbacks compete on evidence."""

import numpy as np
import pytest

from chat import replies
from chat.conversations import open_conversation
from chat.languages import detect
from chat.models import Message
from knowledge.models import Intent, Ticket
from retrieval.examples import ExampleSpace, Nearest
from serving.intents import Prediction
from serving.registry import OneAtATime, registry

pytestmark = pytest.mark.django_db


class EvidenceBundle(OneAtATime):
    """A bundle that answers from tables: the model's prediction and the nearest evidence per text."""

    version = "evidence-1"
    short_intents = frozenset({"greeting"})
    ticket_min_score = 0.9

    def __init__(self, predictions, evidence):
        self.predictions = predictions
        self.evidence = evidence

    def predict(self, text):
        return self.predictions.get(text, Prediction(intent=None, confidence=0.0, ranking=[], threshold=0.5))

    def search(self, text, k=5):
        return []

    def evidence_many(self, texts, k=5):
        return [self.evidence.get(text, ([], Nearest())) for text in texts]


def predicted(intent, confidence, *others):
    return Prediction(intent=intent, confidence=confidence, ranking=[(intent, confidence), *others], threshold=0.3)


@pytest.fixture
def shop(site):
    for name, description in [("order_status", "Track my order"), ("cancel_order", "Cancel an order"),
                              ("change_order", "Change an order"), ("greeting", "Say hello")]:
        Intent.objects.create(name=name, description=description, answer=f"The answer about {description}.")
    Intent.objects.create(name="talk_to_human", description="Talk to a person", handoff=True)
    return site


def ask(site, text):
    conversation, _ = open_conversation(site, None)
    reply = replies.respond(conversation.pk, text)
    return reply, (reply.messages[-1] if reply.messages else None)


def test_a_confident_intent_close_to_its_examples_gets_its_curated_answer(shop):
    text = "where has my parcel got to"
    bundle = EvidenceBundle({text: predicted("order_status", 0.9)},
                            {text: ([], Nearest({"order_status": 0.8, "cancel_order": 0.4}, 0.2))})
    with registry.override(bundle):
        _, message = ask(shop, text)
    assert (message.source, message.intent) == (Message.Source.ANSWER, "order_status")


def test_a_ticket_closer_than_the_predicted_intents_examples_answers_instead(shop):
    ticket = Ticket.objects.create(question="my card was charged twice", resolution="We refunded the second charge.",
                                   status=Ticket.Status.APPROVED)
    text = "i was billed two times for one order"
    bundle = EvidenceBundle({text: predicted("order_status", 0.8)},
                            {text: ([_hit(ticket, 0.62)], Nearest({"order_status": 0.45}, 0.3))})
    with registry.override(bundle):
        _, message = ask(shop, text)
    assert (message.source, message.ticket_id) == (Message.Source.TICKET, ticket.id)
    assert message.confidence == pytest.approx(0.62)


def test_a_near_tie_goes_to_the_ticket_only_while_the_model_names_no_intent(shop):
    ticket = Ticket.objects.create(question="Please delete my account", resolution="We deleted it.",
                                   status=Ticket.Status.APPROVED)
    text = "I need to change the name on my order"
    evidence = {text: ([_hit(ticket, 0.55)], Nearest({"change_order": 0.56}, 0.3))}
    unsure = Prediction(intent=None, confidence=0.2, ranking=[("change_order", 0.2)], threshold=0.5)
    with registry.override(EvidenceBundle({text: predicted("change_order", 0.75)}, evidence)):
        _, message = ask(shop, text)
    assert (message.source, message.intent) == (Message.Source.ANSWER, "change_order")
    with registry.override(EvidenceBundle({text: unsure}, evidence)):
        _, message = ask(shop, text)
    assert (message.source, message.ticket_id) == (Message.Source.TICKET, ticket.id)


def test_two_past_tickets_on_different_topics_about_equally_close_are_offered_as_choices(shop):
    dimmer = Ticket.objects.create(question="Can I use the floor lamp with a dimmer?", resolution="Yes, any dimmer.",
                                   status=Ticket.Status.APPROVED)
    plug = Ticket.objects.create(question="Will your lamps work in the UK?", resolution="With an adapter.",
                                 status=Ticket.Status.APPROVED)
    text = "will the floor lamp work on my switch"
    bundle = EvidenceBundle({}, {text: ([_hit(plug, 0.61), _hit(dimmer, 0.6)], Nearest({"order_status": 0.3}, 0.3))})
    with registry.override(bundle):
        _, message = ask(shop, text)
    assert (message.source, message.ticket_id) == (Message.Source.CLARIFY, plug.id)
    assert message.suggestions == [plug.question, dimmer.question, "Talk to a person"]


def test_wordings_of_one_past_question_are_not_a_close_call(shop):
    first, second = (Ticket.objects.create(question=q, resolution="We sent a replacement.", status=Ticket.Status.APPROVED)
                     for q in ("The vase arrived cracked", "Two plates were broken in the box"))
    text = "the bowl was in pieces"
    bundle = EvidenceBundle({}, {text: ([_hit(first, 0.6), _hit(second, 0.59)], Nearest({"order_status": 0.3}, 0.3))})
    with registry.override(bundle):
        _, message = ask(shop, text)
    assert (message.source, message.ticket_id) == (Message.Source.TICKET, first.id)


def test_an_unsure_intent_with_a_past_ticket_nearly_as_close_asks_with_both(shop):
    ticket = Ticket.objects.create(question="Tracking says delivered but I never got it", resolution="We check it.",
                                   status=Ticket.Status.APPROVED)
    text = "marked as delivered, no parcel here"
    unsure = Prediction(intent=None, confidence=0.2, ranking=[("order_status", 0.2)], threshold=0.5)
    bundle = EvidenceBundle({text: unsure}, {text: ([_hit(ticket, 0.45)], Nearest({"order_status": 0.5}, 0.3))})
    with registry.override(bundle):
        _, message = ask(shop, text)
    assert message.source == Message.Source.CLARIFY
    assert message.suggestions[:2] == ["Track my order", ticket.question]


def test_an_unapproved_ticket_is_never_offered(shop):
    ticket = Ticket.objects.create(question="my card was charged twice", resolution="We refunded it.")
    text = "i was billed two times for one order"
    bundle = EvidenceBundle({}, {text: ([_hit(ticket, 0.9)], Nearest({"order_status": 0.2}, 0.1))})
    with registry.override(bundle):
        _, message = ask(shop, text)
    assert message.source == Message.Source.FALLBACK


def test_a_vague_word_gets_choices_not_a_guess(shop):
    bundle = EvidenceBundle({"order": predicted("order_status", 0.95)},
                            {"order": ([], Nearest({"cancel_order": 0.6, "order_status": 0.58, "change_order": 0.55}, 0.2))})
    with registry.override(bundle):
        _, message = ask(shop, "order")
    assert message.source == Message.Source.CLARIFY
    assert message.suggestions == ["Cancel an order", "Track my order", "Change an order", "Talk to a person"]


@pytest.mark.parametrize("text", ["hi, can you help me", "I have a question about something", "hello I need some help"])
def test_a_request_for_help_that_names_no_topic_gets_choices_however_long(shop, text):
    bundle = EvidenceBundle({text: predicted("greeting", 0.9)},
                            {text: ([], Nearest({"greeting": 0.8, "order_status": 0.5}, 0.3))})
    with registry.override(bundle):
        _, message = ask(shop, text)
    assert (message.source, message.text) == (Message.Source.CLARIFY, replies.VAGUE_TEXT)


def test_a_short_greeting_is_answered_not_questioned(shop):
    bundle = EvidenceBundle({"hi there": predicted("greeting", 0.99)},
                            {"hi there": ([], Nearest({"greeting": 0.9}, 0.1))})
    with registry.override(bundle):
        _, message = ask(shop, "hi there")
    assert (message.source, message.intent) == (Message.Source.ANSWER, "greeting")


def test_a_message_closer_to_out_of_scope_examples_gets_the_fallback(shop):
    text = "do you sell car tyres"
    bundle = EvidenceBundle({text: predicted("order_status", 0.6)},
                            {text: ([], Nearest({"order_status": 0.4}, 0.7))})
    with registry.override(bundle):
        _, message = ask(shop, text)
    assert message.source == Message.Source.FALLBACK


def test_a_message_in_another_language_gets_an_honest_reply_that_offers_a_person(shop):
    bundle = EvidenceBundle({}, {})
    with registry.override(bundle):
        _, message = ask(shop, "¿Dónde está mi pedido?")
    assert message.source == Message.Source.FALLBACK and message.intent == "language:es"
    assert "only answer in English" in message.text and message.suggestions == ["Talk to a person"]


def test_a_request_for_a_person_in_two_words_is_handed_off(shop):
    with registry.override(EvidenceBundle({}, {})):
        reply, _ = ask(shop, "real person")
    assert reply.handoff


@pytest.mark.parametrize("text", ["get me someone from customer service", "can a member of staff call me",
                                  "I want to chat with one of your colleagues", "put me through to a manager"])
def test_requests_for_a_person_in_other_words_are_handed_off(shop, text):
    with registry.override(EvidenceBundle({}, {})):
        reply, _ = ask(shop, text)
    assert reply.handoff


@pytest.mark.parametrize("text", ["I'm so fed up with you", "you're not understanding me at all", "what a joke",
                                  "this is unacceptable", "nobody ever answers here"])
def test_frustration_in_other_words_is_offered_a_person(shop, text):
    with registry.override(EvidenceBundle({}, {})):
        _, message = ask(shop, text)
    assert message.source == Message.Source.OFFER


@pytest.mark.parametrize("text, language", [
    ("Wo ist meine Bestellung?", "de"), ("je voudrais retourner un article", "fr"),
    ("¿cuánto tarda el envío?", "es"), ("vorrei restituire un prodotto", "it"),
    ("Waar is mijn bestelling?", "nl"), ("Gdzie jest moja paczka?", "pl"),
])
def test_messages_in_other_languages_are_recognised(text, language):
    assert detect(text, "en") == language


@pytest.mark.parametrize("text", ["hola", "where is my order", "merci", "do you ship to Zürich?",
                                  "the mug came smashed to pieces", "ok", "I want a refund please"])
def test_english_shop_messages_and_single_foreign_words_stay_in_the_sites_language(text):
    assert detect(text, "en") == "en"


def test_the_example_space_finds_the_nearest_example_of_each_intent_and_survives_a_round_trip(tmp_path):
    vectors = np.eye(4, dtype=np.float32)
    space = ExampleSpace(vectors, ["a", "a", "b", None], [1, 2, 8, 3])
    space.save(tmp_path)
    loaded = ExampleSpace.load(tmp_path)
    [near] = loaded.nearest(np.array([[0.1, 0.9, 0.3, 0.5]], dtype=np.float32))
    assert near.intents == pytest.approx({"a": 0.9, "b": 0.3})
    assert near.out_of_scope == pytest.approx(0.5)
    assert near.best[0] == "a" and loaded.short_intents == frozenset({"a"})
    assert ExampleSpace.load(tmp_path / "none") is None


def _hit(ticket, score):
    from serving.registry import Hit

    return Hit(ticket_id=ticket.id, score=score)
