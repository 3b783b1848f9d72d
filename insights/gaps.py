"""Content gaps: what customers ask that the bot does not answer well, grouped into topics.

compute(run):
  1. collect the site's customer messages of the window whose answer missed: the fallback, a
     "did you mean" whose buttons were not taken, a handoff straight after it, thumbs down, or
     an answer given with low confidence; not the ones already labelled or reviewed, not a
     plain request for a person; the newest MAX_MESSAGES; redacted;
  2. measure how alike they are with the bot's own encoder (the serving bundle's sentence
     vectors, centred) joined, as the ticket index's hybrid does, with TF-IDF fitted on these
     texts; without a trained model, the TF-IDF half alone (`similarities`);
  3. cluster by meaning: agglomerative clustering, average linkage on 1 - similarity, cut at
     DISTANCE (DISTANCE_WITH_MODEL when the bundle's encoder took part; no number of topics to guess);
  4. store each topic with its size, customers affected, trend (newer vs older half of the
     questions' span), reasons and samples (closest to the topic's centre first), ranked by customers.
Progress is written on the run as it goes, for the page that polls it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chat import review
from chat.models import Conversation, Message
from chat.replies import ASK_FOR_HUMAN, is_talk_to_person
from insights.models import GapRun, GapTopic
from knowledge.models import Intent, TrainingExample
from privacy.redaction import redact
from serving.registry import current

if TYPE_CHECKING:  # numpy and the encoder are imported by the steps that compute (a worker's task):
    import numpy as np  # a web process shows the pages and queues runs without them (issue 20)

log = logging.getLogger(__name__)

MAX_MESSAGES = 3000
LOW_CONFIDENCE = 0.5
# Distance (1 - similarity) at which two groups stop merging (average linkage), chosen on 22
# scripted shop questions in five subjects (docs/insights.md): TF-IDF alone kept every subject
# together and mixed none from 0.85 (at 0.8 one split in two); with the demo bot's encoder joined,
# 0.75 mixed none and 0.8 paired two unrelated questions.
DISTANCE = 0.85
DISTANCE_WITH_MODEL = 0.75
LEXICAL_WEIGHT = 0.5
SAMPLES = 8
KEEP_RUNS = 3  # per site: older runs (and the texts in their samples) are deleted


@dataclass
class Gap:
    message_id: int
    text: str
    visitor_id: int
    created: dt.datetime
    reasons: set[str] = field(default_factory=set)


def collect(site_id: int, start: dt.datetime, end: dt.datetime) -> list[Gap]:
    """The window's customer messages that the bot did not answer well (step 1)."""
    gaps: dict[int, Gap] = {}
    in_window = Q(conversation__site_id=site_id, created__gte=start, created__lt=end)

    def note(message_id: int, reason: str) -> None:
        gaps.setdefault(message_id, Gap(message_id, "", 0, start)).reasons.add(reason)

    missed = Message.objects.filter(in_window, sender=Message.Sender.BOT, reply_to__isnull=False).filter(
        Q(source__in=[Message.Source.FALLBACK, Message.Source.CLARIFY]) | Q(feedback=Message.Feedback.DOWN)
        | Q(source__in=[Message.Source.ANSWER, Message.Source.TICKET], confidence__lt=LOW_CONFIDENCE)
    ).values_list("reply_to_id", "conversation_id", "seq", "source", "feedback", "suggestions")
    clarified: dict[tuple[int, int], tuple[int, list[str]]] = {}
    for question_id, conversation_id, seq, source, feedback, suggestions in missed.order_by("-created")[:MAX_MESSAGES]:
        if feedback == Message.Feedback.DOWN:
            note(question_id, "thumbs_down")
        if source == Message.Source.FALLBACK:
            note(question_id, "fallback")
        elif source == Message.Source.CLARIFY:
            clarified[(conversation_id, seq + 1)] = (question_id, suggestions or [])
        elif feedback != Message.Feedback.DOWN:
            note(question_id, "low_confidence")
    # "Did you mean" counts as missed unless the customer's next message took one of its buttons.
    taken = {
        (conversation_id, seq): text
        for conversation_id, seq, text in Message.objects.filter(
            sender=Message.Sender.CUSTOMER, conversation_id__in={c for c, _ in clarified}
        ).values_list("conversation_id", "seq", "text")
        if (conversation_id, seq) in clarified
    }
    for key, (question_id, suggestions) in clarified.items():
        if taken.get(key) not in suggestions:
            note(question_id, "clarify_not_taken")
    # A handoff: the customer message just before the conversation's first system notice.
    handed = Conversation.objects.filter(site_id=site_id, created__gte=start - dt.timedelta(days=1),
                                         created__lt=end).exclude(handoff_reason="")
    notices = (Message.objects.filter(in_window, conversation__in=handed, sender=Message.Sender.SYSTEM)
               .values_list("conversation_id", "seq").order_by("conversation_id", "seq"))
    first_notice: dict[int, int] = {}
    for conversation_id, seq in notices[:MAX_MESSAGES * 4]:
        first_notice.setdefault(conversation_id, seq)
    pairs = list(first_notice.items())
    for chunk in range(0, len(pairs), 500):
        before = Q()
        for conversation_id, seq in pairs[chunk:chunk + 500]:
            before |= Q(conversation_id=conversation_id, seq=seq - 1)
        for message_id in Message.objects.filter(before, sender=Message.Sender.CUSTOMER).values_list("pk", flat=True):
            note(message_id, "handoff")

    done = set(TrainingExample.objects.filter(message_id__in=list(gaps)).values_list("message_id", flat=True))
    rows = (Message.objects.filter(pk__in=[pk for pk in gaps if pk not in done], sender=Message.Sender.CUSTOMER,
                                   reviewed=False)
            .values_list("pk", "text", "conversation__visitor_id", "created"))
    found = []
    for pk, text, visitor_id, created in rows:
        if is_talk_to_person(text) or ASK_FOR_HUMAN.search(text):
            continue  # asking for a person is not a question the bot failed
        gap = gaps[pk]
        found.append(Gap(pk, redact(text).strip(), visitor_id, created, gap.reasons))
    found.sort(key=lambda gap: gap.created, reverse=True)
    return [gap for gap in found[:MAX_MESSAGES] if gap.text]


def similarities(texts: list[str]) -> tuple[np.ndarray, str]:
    """Pairwise similarity of the texts (step 2) and the name of what measured it.

    Lexical: TF-IDF of words (English stop words dropped: "can I buy a" says nothing of the
    topic) and of character 3-5-grams (typos, plurals), half each, fitted on these texts.
    With a trained model, half of it is the cosine of the bundle's sentence vectors centred on
    their mean: the intent encoder places every question no intent covers in one corner, so
    uncentred, unrelated gaps would look alike.
    """
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from retrieval.encoder import l2_normalize

    n = len(texts)
    if n < 2:
        return np.ones((n, n), dtype=np.float32), "none (one message)"
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(texts)
    lexical = 0.5 * (chars @ chars.T).toarray()
    try:
        words = TfidfVectorizer(analyzer="word", stop_words="english", sublinear_tf=True).fit_transform(texts)
        lexical += 0.5 * (words @ words.T).toarray()
    except ValueError:  # nothing but stop words
        lexical *= 2
    bundle: Any = current()
    if not hasattr(bundle, "embed"):
        return lexical.astype(np.float32), "tf-idf (no trained model)"
    vectors = np.asarray(bundle.embed(texts), dtype=np.float32)
    vectors = l2_normalize(vectors - vectors.mean(axis=0, keepdims=True))
    semantic = np.clip(vectors @ vectors.T, -1, 1)
    return ((1 - LEXICAL_WEIGHT) * semantic + LEXICAL_WEIGHT * lexical).astype(np.float32), \
        f"bundle {bundle.version} (centred) + tf-idf"


def cluster(similarity: np.ndarray, distance_threshold: float = DISTANCE) -> np.ndarray:
    """A topic number for each text (step 3)."""
    import numpy as np

    if len(similarity) < 2:
        return np.zeros(len(similarity), dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    distance = np.clip(1.0 - similarity, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance_threshold, metric="precomputed",
                                    linkage="average")
    return np.asarray(model.fit_predict(distance))


def _progress(run: GapRun, percent: int, stage: str, **fields: Any) -> None:
    GapRun.objects.filter(pk=run.pk).update(progress=percent, stage=stage, **fields)


def compute(run_id: int) -> GapRun:
    """Work out a run's topics (the steps at the top), recording progress and failure on the run."""
    import numpy as np

    run = GapRun.objects.get(pk=run_id)
    _progress(run, 5, "collecting questions", status=GapRun.Status.RUNNING)
    try:
        end = timezone.now()
        start = end - dt.timedelta(days=run.days)
        gaps = collect(run.site_id, start, end)
        _progress(run, 30, f"embedding {len(gaps)} questions", messages=len(gaps))
        similarity, encoder = similarities([gap.text for gap in gaps]) if gaps else (np.zeros((0, 0)), "")
        _progress(run, 60, "grouping into topics", encoder=encoder)
        labels = cluster(similarity, DISTANCE_WITH_MODEL if encoder.startswith("bundle") else DISTANCE)
        # The trend compares the newer and the older half of the questions' own span: with more
        # than MAX_MESSAGES in the window only the newest are kept, which would all look "new".
        oldest = min((gap.created for gap in gaps), default=start)
        newest = max((gap.created for gap in gaps), default=end)
        topics = _topics(run, gaps, similarity, labels, oldest + (newest - oldest) / 2)
        with transaction.atomic():
            GapTopic.objects.filter(run=run).delete()
            GapTopic.objects.bulk_create(topics)
            _progress(run, 100, f"{len(topics)} topics", status=GapRun.Status.DONE, finished=timezone.now())
            older = GapRun.objects.filter(site_id=run.site_id).order_by("-created").values_list("pk", flat=True)
            GapRun.objects.filter(pk__in=list(older[KEEP_RUNS:])).delete()
    except Exception as exc:
        log.exception("content gaps of run %s failed", run.pk)
        _progress(run, 100, "failed", status=GapRun.Status.FAILED, error=repr(exc)[:2000], finished=timezone.now())
    run.refresh_from_db()
    return run


def _topics(run: GapRun, gaps: list[Gap], similarity: np.ndarray, labels: np.ndarray,
            middle: dt.datetime) -> list[GapTopic]:
    """One GapTopic per cluster: its most typical texts first, ranked by customers affected."""
    import numpy as np

    topics = []
    for label in set(labels.tolist()):
        members = np.flatnonzero(labels == label)
        typical = similarity[np.ix_(members, members)].sum(axis=1)  # closeness to the rest of the topic
        order = members[np.argsort(-typical, kind="stable")]
        chosen = [gaps[i] for i in order]
        samples = list(dict.fromkeys(gap.text for gap in chosen))
        reasons = Counter(reason for gap in chosen for reason in gap.reasons)
        topics.append(GapTopic(
            run=run, rank=0, label=samples[0][:200], size=len(chosen),
            customers=len({gap.visitor_id for gap in chosen}),
            recent=sum(gap.created >= middle for gap in chosen), earlier=sum(gap.created < middle for gap in chosen),
            reasons=dict(reasons.most_common()), samples=samples[:SAMPLES],
            message_ids=[gap.message_id for gap in chosen],
        ))
    topics.sort(key=lambda t: (-t.customers, -t.size, t.label))
    for rank, topic in enumerate(topics, 1):
        topic.rank = rank
    return topics


def start(site_id: int, days: int) -> GapRun:
    """A new queued run (the caller computes it, or sends it to Celery on commit)."""
    return GapRun.objects.create(site_id=site_id, days=days)


def latest(site_id: int) -> GapRun | None:
    return GapRun.objects.filter(site_id=site_id).order_by("-created").first()


def promote(topic: GapTopic, *, intent: Intent | None = None, name: str = "", answer: str = "") -> Intent:
    """Turn a topic's questions into training examples: of `intent`, or of a new intent `name`.

    Each customer message becomes a redacted example (chat.review.label, as the review queue
    does) and leaves the review queue; the next retrain learns them.
    """
    with transaction.atomic():
        if intent is None:
            intent, _ = Intent.objects.get_or_create(name=name, defaults={"answer": answer, "description": topic.label[:300]})
        for message in Message.objects.filter(pk__in=topic.message_ids, sender=Message.Sender.CUSTOMER):
            if not TrainingExample.objects.filter(message_id=message.pk).exists():
                review.label(message, intent=intent)
        GapTopic.objects.filter(pk=topic.pk).update(intent=intent, promoted=timezone.now())
    return intent


def enqueue(site_id: int, days: int) -> GapRun:
    """A new run, computed by a Celery worker once this transaction commits."""
    from insights.tasks import compute_content_gaps

    run = start(site_id, days)
    transaction.on_commit(lambda: compute_content_gaps.delay(run.pk))
    return run


def refresh_all(days: int = 30) -> int:
    """Beat: recompute every active site's gaps (one run each, in this worker)."""
    from chat.models import Site

    sites = list(Site.objects.filter(is_active=True).values_list("pk", flat=True))
    for site_id in sites:
        compute(start(site_id, days).pk)
    return len(sites)


def forget_erased() -> int:
    """Drop erased customers' questions from stored topics (an erasure deleted their messages).

    Topics keep redacted copies of the texts as samples; a topic that lost messages gets its
    samples, label, size and customers again from the messages left, or goes when none is left.
    Returns how many topics changed.
    """
    changed = 0
    for topic in GapTopic.objects.filter(intent__isnull=True):
        left = list(Message.objects.filter(pk__in=topic.message_ids).order_by("-created")
                    .values_list("pk", "text", "conversation__visitor_id"))
        if len(left) == len(topic.message_ids):
            continue
        changed += 1
        if not left:
            topic.delete()
            continue
        samples = list(dict.fromkeys(redact(text).strip() for _, text, _ in left))
        topic.message_ids = [pk for pk, _, _ in left]
        topic.samples = samples[:SAMPLES]
        topic.label = samples[0][:200]
        topic.size = len(left)
        topic.customers = len({visitor for _, _, visitor in left})
        topic.save(update_fields=["message_ids", "samples", "label", "size", "customers"])
    return changed
