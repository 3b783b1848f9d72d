"""Content gaps: badly answered questions, grouped by meaning, turned into training data."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from chat.models import Message
from insights import gaps
from insights.models import GapRun
from knowledge.models import Intent, TrainingExample
from tests.conftest import FakeBundle
from tests.insights_data import answered, conversation, fallback

pytestmark = pytest.mark.django_db

GIFT_CARDS = [
    "Do you sell gift cards?", "can I buy a gift card", "gift card for my sister's birthday",
    "how do gift cards work", "Is there a gift card I can send by email?", "do you have gift vouchers or gift cards",
]
OTHERS = [
    "Can I pay with bitcoin?", "do you ship to Antarctica", "what is the meaning of life", "my cat ate the parcel",
    "Are your mugs dishwasher safe?", "is the stoneware mug safe in the dishwasher", "when do you open the store in Paris",
    "do you sell furniture", "can I buy a table from you",
]


def recent(minutes: int = 30) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


@pytest.fixture
def unanswered(site, fake_bundle):
    for text in GIFT_CARDS + OTHERS:
        conversation(site, recent(), fallback(text))
    return site


def test_unanswered_questions_on_one_subject_become_one_topic(unanswered):
    run = gaps.compute(gaps.start(unanswered.pk, 7).pk)
    assert run.status == GapRun.Status.DONE and run.messages == len(GIFT_CARDS + OTHERS)
    top = run.topics.order_by("rank").first()
    assert sorted(top.samples) == sorted(GIFT_CARDS)
    assert (top.size, top.customers, top.reasons) == (6, 6, {"fallback": 6})
    assert all(len(t.samples) < 6 for t in run.topics.exclude(pk=top.pk))


def test_each_kind_of_miss_counts_and_good_answers_do_not(site, fake_bundle):
    conversation(site, recent(), answered("refund please"))  # answered well
    conversation(site, recent(), answered("a refund?", confidence=0.2))  # low confidence
    conversation(site, recent(), answered("refund now", feedback="down"))
    conversation(site, recent(), [("customer", "the lid is cracked", {}), ("system", "Connecting you.", {})],
                 handoff_reason="customer asked for a person")
    conversation(site, recent(), [("customer", "talk to a person", {}), ("system", "Connecting you.", {})],
                 handoff_reason="customer asked for a person")
    conversation(site, recent(), [
        ("customer", "shipping or returns?", {}),
        ("bot", "Did you mean?", {"source": "clarify", "suggestions": ["Shipping", "Returns"], "model_version": "v1"}),
        ("customer", "Shipping", {}),
    ])
    conversation(site, recent(), [
        ("customer", "wrapping paper", {}),
        ("bot", "Did you mean?", {"source": "clarify", "suggestions": ["Shipping", "Returns"], "model_version": "v1"}),
        ("customer", "no, wrapping paper", {}),
    ])
    found = {gap.text: gap.reasons for gap in gaps.collect(site.pk, recent(60), timezone.now())}
    assert found == {
        "a refund?": {"low_confidence"}, "refund now": {"thumbs_down"}, "the lid is cracked": {"handoff"},
        "wrapping paper": {"clarify_not_taken"},
    }


def test_gap_texts_are_redacted(site, fake_bundle):
    conversation(site, recent(), fallback("my email is jane.doe@example.com, call me"))
    [gap] = gaps.collect(site.pk, recent(60), timezone.now())
    assert "jane.doe@example.com" not in gap.text


def test_the_command_recomputes_and_prints_topics_largest_first(unanswered):
    out = io.StringIO()
    call_command("content_gaps", "--site", unanswered.public_key, "--days", "7", "--json", stdout=out)
    topics = json.loads(out.getvalue())["topics"]
    assert [t["size"] for t in topics] == sorted((t["size"] for t in topics), reverse=True)
    assert topics[0]["size"] == 6 and set(topics[0]) >= {"id", "size", "label", "samples"}
    assert topics[0]["label"] in GIFT_CARDS


def test_a_topic_becomes_a_new_intent_with_its_questions_as_examples(unanswered):
    run = gaps.compute(gaps.start(unanswered.pk, 7).pk)
    top = run.topics.order_by("rank").first()
    intent = gaps.promote(top, name="gift_cards", answer="We sell gift cards from €10.")
    assert intent.answer == "We sell gift cards from €10."
    assert sorted(TrainingExample.objects.filter(intent=intent).values_list("text", flat=True)) == sorted(GIFT_CARDS)
    assert Message.objects.filter(pk__in=top.message_ids, reviewed=True).count() == 6
    # Promoted questions are no longer gaps.
    again = gaps.compute(gaps.start(unanswered.pk, 7).pk)
    assert again.messages == len(OTHERS)


def test_a_topic_can_add_examples_to_an_existing_intent(unanswered, refund_intent):
    top = gaps.compute(gaps.start(unanswered.pk, 7).pk).topics.order_by("rank").first()
    gaps.promote(top, intent=refund_intent)
    assert TrainingExample.objects.filter(intent=refund_intent).count() == 6
    assert Intent.objects.count() == 1


def test_a_failed_run_says_why(site, monkeypatch):
    def broken(*args):
        raise RuntimeError("database went away")

    monkeypatch.setattr(gaps, "collect", broken)
    run = gaps.compute(gaps.start(site.pk, 7).pk)
    assert run.status == GapRun.Status.FAILED and "database went away" in run.error


def test_promoting_a_topic_needs_the_permission_to_add_training_examples(client, unanswered):
    from django.contrib.auth.models import Permission, User

    top = gaps.compute(gaps.start(unanswered.pk, 7).pk).topics.order_by("rank").first()
    owner = User.objects.create_user("owner", password="pw-123-456-789", is_staff=True)
    client.force_login(owner)
    form = {"name": "gift_cards", "answer": "From €10."}
    assert client.post(f"/insights/gaps/topic/{top.pk}/promote/", form).status_code == 403
    owner.user_permissions.add(*Permission.objects.filter(codename__in=["add_trainingexample", "add_intent"]))
    assert client.post(f"/insights/gaps/topic/{top.pk}/promote/", form).status_code == 302
    assert TrainingExample.objects.filter(intent__name="gift_cards").count() == 6


class EmbeddingBundle(FakeBundle):
    """A fake bundle with the serving bundle's `embed`: every text in one corner, as an intent
    encoder puts questions no intent covers, plus a small direction per subject (gift cards share one)."""

    def embed(self, texts):
        import numpy as np

        subjects = sorted({"gift" if "gift" in text.lower() else text for text in texts})
        vectors = np.zeros((len(texts), 1 + len(subjects)), dtype=np.float32)
        vectors[:, 0] = 1.0
        for i, text in enumerate(texts):
            vectors[i, 1 + subjects.index("gift" if "gift" in text.lower() else text)] = 0.1
        return vectors


def test_with_a_trained_model_its_encoder_centred_joins_the_tf_idf(site):
    from serving.registry import registry

    with registry.override(EmbeddingBundle()):
        for text in GIFT_CARDS + OTHERS:
            conversation(site, recent(), fallback(text))
        run = gaps.compute(gaps.start(site.pk, 7).pk)
    assert run.encoder == "bundle fake-1 (centred) + tf-idf"
    top = run.topics.order_by("rank").first()
    assert sorted(top.samples) == sorted(GIFT_CARDS)


def test_beat_rolls_up_the_last_two_finished_days_of_every_site(site):
    from insights.metrics import rollup_recent
    from insights.models import DailyStat

    conversation(site, timezone.now() - dt.timedelta(days=1), fallback("late question"), rating=3)
    assert rollup_recent() == 2
    yesterday = DailyStat.objects.get(site=site, day=(timezone.now() - dt.timedelta(days=1)).date(), model_version="v1")
    assert (yesterday.conversations, yesterday.csat_sum) == (1, 3)
    assert DailyStat.objects.filter(site=site).count() == 3  # yesterday's two rows, the day before's marker


def test_an_erased_customers_questions_leave_the_stored_topics(unanswered):
    from chat.models import Visitor
    from chat.retention import erase_visitor

    run = gaps.compute(gaps.start(unanswered.pk, 7).pk)
    top = run.topics.order_by("rank").first()
    erased = Message.objects.get(text="Do you sell gift cards?").conversation.visitor
    erase_visitor(Visitor.objects.get(pk=erased.pk))
    top.refresh_from_db()
    assert "Do you sell gift cards?" not in top.samples
    assert (top.size, top.customers) == (5, 5)


def test_only_the_latest_runs_of_a_site_are_kept(unanswered):
    for _ in range(gaps.KEEP_RUNS + 2):
        gaps.compute(gaps.start(unanswered.pk, 7).pk)
    assert GapRun.objects.filter(site=unanswered).count() == gaps.KEEP_RUNS
