"""Approved tickets reach the index: full builds, incremental syncs, and live bundles."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from serving.registry import LoadedBundle
from retrieval.calibration import CEILING, FLOOR, UNCALIBRATED
from retrieval.encoder import DEFAULT_KIND
from retrieval.index import TicketIndex
from retrieval.ingest import LiveIndex, build_ticket_index, index_text, sync
from knowledge.models import Ticket
from knowledge.tickets import approve_ticket, approved_tickets, propose_ticket, reject_ticket

pytestmark = pytest.mark.django_db

QUESTIONS = [
    ("my card has not arrived yet", "card_arrival"),
    ("where is my new card", "card_arrival"),
    ("how do I reset my password", "password"),
    ("forgot my password and cannot log in", "password"),
    ("what is the exchange rate for euros", "exchange_rate"),
    ("the exchange rate you gave me seems wrong", "exchange_rate"),
    ("I was charged twice for one purchase", "duplicate_charge"),
    ("a payment appears two times on my statement", "duplicate_charge"),
]


class FakeIntentModel:
    """Stands in for serving.intents.IntentModel: a fixed random projection of letter counts."""

    dim = 16

    def __init__(self) -> None:
        self.projection = np.random.default_rng(0).normal(size=(26, self.dim)).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        counts = np.array([[t.lower().count(chr(97 + i)) for i in range(26)] for t in texts], np.float32)
        out = counts @ self.projection
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def predict(self, text: str) -> None:
        return None


def approved(question: str, intent: str = "") -> Ticket:
    return approve_ticket(propose_ticket(None, question, "the resolution", intent))


@pytest.fixture
def tickets() -> list[Ticket]:
    return [approved(q, i) for q, i in QUESTIONS]


def test_build_indexes_only_approved_tickets(tmp_path, tickets):
    proposal = propose_ticket(None, "my card has not arrived, still waiting", "wait")
    index = build_ticket_index(FakeIntentModel(), tmp_path)
    assert index.ids() == {t.id for t in tickets}
    assert proposal.id not in TicketIndex.load(tmp_path)
    assert json.loads((tmp_path / "encoder.json").read_text())["kind"] == DEFAULT_KIND


def test_without_an_intent_model_the_index_uses_the_lexical_encoder(tmp_path, tickets):
    build_ticket_index(None, tmp_path)
    assert json.loads((tmp_path / "encoder.json").read_text())["kind"] == "lexical"
    live = LiveIndex.load(tmp_path, None)
    assert live.search("where is my new card", 1)[0][0] == tickets[1].id


def test_a_ticket_approved_after_the_build_is_found_after_a_sync(tmp_path, tickets):
    build_ticket_index(FakeIntentModel(), tmp_path)
    live = LiveIndex.load(tmp_path, FakeIntentModel(), poll_seconds=0)
    new = approved("my card has not arrived yet, it has been three weeks")
    assert new.id not in live.index
    hits = live.search("my card has not arrived yet, it has been three weeks", 3)
    assert hits[0][0] == new.id


def test_a_ticket_rejected_after_approval_leaves_the_index(tmp_path, tickets):
    index = build_ticket_index(FakeIntentModel(), tmp_path)
    encoder = LiveIndex.load(tmp_path, FakeIntentModel()).encoder
    reject_ticket(tickets[0])
    result = sync(index, encoder)
    assert result.removed == 1 and tickets[0].id not in index


def test_a_sync_without_changes_embeds_nothing(tmp_path, tickets):
    index = build_ticket_index(FakeIntentModel(), tmp_path)
    encoder = LiveIndex.load(tmp_path, FakeIntentModel()).encoder
    assert sync(index, encoder).added == 0


def test_an_approval_committed_late_is_still_seen(tmp_path, tickets):
    index = build_ticket_index(FakeIntentModel(), tmp_path)
    encoder = LiveIndex.load(tmp_path, FakeIntentModel()).encoder
    late = approved("where is my new card, please")
    # Its `updated` predates the watermark by a minute, as when a transaction commits late.
    Ticket.objects.filter(pk=late.pk).update(updated=timezone.now() - timedelta(minutes=1))
    index.meta["synced_until"] = timezone.now().isoformat()
    assert sync(index, encoder).added == 1 and late.id in index


def test_proposed_tickets_are_never_returned_as_approved(tickets):
    proposal = propose_ticket(None, "my card has not arrived yet", "wait")

    class Hit:
        def __init__(self, ticket_id: int, score: float) -> None:
            self.ticket_id, self.score = ticket_id, score

    found = approved_tickets([Hit(proposal.id, 0.99), Hit(tickets[0].id, 0.9), Hit(10**9, 0.8)])
    assert found == [(tickets[0], 0.9)]


def test_indexed_text_is_redacted():
    assert "jane@example.com" not in index_text("refund to jane@example.com please")


def test_a_live_bundle_serves_a_ticket_approved_while_it_runs(tmp_path, tickets, monkeypatch, settings):
    from serving import intents

    settings.BUNDLE_POLL_SECONDS = 1
    monkeypatch.setattr(intents.IntentModel, "load", classmethod(lambda cls, directory: FakeIntentModel()))
    (tmp_path / "intent").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "v1", "format": 1}))
    build_ticket_index(FakeIntentModel(), tmp_path / "index")
    bundle = LoadedBundle(tmp_path)
    assert bundle.search("where is my new card", 1)[0].ticket_id == tickets[1].id
    new = approved("the app crashes when I open the statements page")
    bundle.index._synced_at -= 2  # one poll interval later
    assert bundle.search("the app crashes when I open the statements page", 1)[0].ticket_id == new.id


def test_a_bundle_published_without_an_index_still_finds_new_approvals(tmp_path, monkeypatch, settings):
    from serving import intents

    monkeypatch.setattr(intents.IntentModel, "load", classmethod(lambda cls, directory: FakeIntentModel()))
    (tmp_path / "intent").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "v1", "format": 1}))
    bundle = LoadedBundle(tmp_path)
    new = approved("the app crashes when I open the statements page")
    assert bundle.search("the app crashes when I open the statements page", 1)[0].ticket_id == new.id


def test_a_question_edited_after_the_build_is_embedded_again(tmp_path, tickets):
    index = build_ticket_index(None, tmp_path)
    encoder = LiveIndex.load(tmp_path, None).encoder
    assert sync(index, encoder).added == 0
    tickets[0].question = "the app crashes when I open the statements page"
    tickets[0].save()
    assert sync(index, encoder).added == 1
    assert index.search(encoder.embed([tickets[0].question]), 1)[0][0] == tickets[0].id


def test_a_retrain_before_any_approval_writes_an_empty_index_that_fills_later(tmp_path):
    index = build_ticket_index(FakeIntentModel(), tmp_path)
    assert len(index) == 0
    live = LiveIndex.load(tmp_path, FakeIntentModel(), poll_seconds=0)
    new = approved("where is my new card")
    assert live.search("where is my new card", 1)[0][0] == new.id


def test_a_build_stores_a_calibrated_threshold_that_the_bundle_reads(tmp_path, tickets, monkeypatch):
    from serving import intents

    monkeypatch.setattr(intents.IntentModel, "load", classmethod(lambda cls, directory: FakeIntentModel()))
    (tmp_path / "intent").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "v1", "format": 1}))
    build_ticket_index(FakeIntentModel(), tmp_path / "index")
    stored = json.loads((tmp_path / "index" / "index.json").read_text())["meta"]["threshold"]
    assert FLOOR <= stored["min_score"] <= CEILING and stored["negatives"] > 0
    assert LiveIndex.load(tmp_path / "index", FakeIntentModel()).min_score == stored["min_score"]
    assert LoadedBundle(tmp_path).ticket_min_score == stored["min_score"]


def test_deployment_negatives_that_look_like_tickets_raise_the_bar(tmp_path, tickets):
    alone = build_ticket_index(FakeIntentModel(), tmp_path / "a").meta["threshold"]
    copies = [question.upper() for question, _ in QUESTIONS] * 3
    raised = build_ticket_index(FakeIntentModel(), tmp_path / "b", negative_texts=copies).meta["threshold"]
    assert raised["deployment_negatives"] == len(copies)
    assert raised["min_score"] > alone["min_score"]


def test_an_index_without_a_calibration_keeps_the_old_bar(tmp_path):
    assert LiveIndex.empty(FakeIntentModel()).min_score == UNCALIBRATED
    assert build_ticket_index(FakeIntentModel(), tmp_path).meta["threshold"]["min_score"] == UNCALIBRATED


def test_without_examples_the_reply_policy_offers_a_ticket_above_the_bundles_own_bar(tickets):
    from serving.intents import Prediction
    from serving.registry import OneAtATime
    from chat.replies import decide
    from retrieval.examples import Nearest

    class Bundle(OneAtATime):
        ticket_min_score = 0.3

    unsure = Prediction(intent=None, confidence=0.1, ranking=[], threshold=0.5)
    assert decide("anything", unsure, Nearest(), (tickets[0], 0.4), Bundle()).source == "ticket"
    Bundle.ticket_min_score = 0.5
    assert decide("anything", unsure, Nearest(), (tickets[0], 0.4), Bundle()).source == "fallback"


def test_the_index_holds_the_training_examples_so_tickets_and_intents_compare_on_one_scale(tmp_path, tickets):
    examples = [("where is my parcel", "order_status"), ("track my order", "order_status"),
                ("I want my money back", "refund"), ("tell me a joke", None)]
    build_ticket_index(FakeIntentModel(), tmp_path, examples=examples)
    live = LiveIndex.load(tmp_path, FakeIntentModel(), poll_seconds=0)
    new = approved("the mobile app crashes when I upload a photo of my cheque")

    [hits], [nearest] = live.search_and_compare(["the app crashes when I upload a cheque photo"], 3)

    assert hits[0][0] == new.id  # approved after the build: found after the sync, in the same call
    assert set(nearest.intents) == {"order_status", "refund"}
    assert nearest.intents["order_status"] == pytest.approx(
        max(float(live.encoder.embed(["the app crashes when I upload a cheque photo"])[0]
                  @ vector) for vector in live.examples.vectors[:2]), abs=1e-5)
    assert 0.0 <= nearest.out_of_scope <= 1.0
