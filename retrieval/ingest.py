"""Approved tickets into the index: a full build at publish time, then incremental syncs.

`build_ticket_index` is what the retraining pipeline calls when it writes a bundle; `sync`
brings a loaded index up to date with the ticket table; `LiveIndex` is what a bundle serves,
syncing at most every BUNDLE_POLL_SECONDS, so a ticket approved while the server runs is
found by every web process within that time, with no retrain and no restart.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from retrieval.calibration import OFF_TOPIC, UNCALIBRATED, best_scores, calibrate
from retrieval.encoder import (
    Encoder,
    embed_documents,
    fit_ticket_encoder,
    load_ticket_encoder,
    save_ticket_encoder,
)
from retrieval.examples import ExampleSpace, Nearest
from retrieval.index import TicketIndex, use_one_thread
from knowledge.models import Ticket

log = logging.getLogger(__name__)

# A ticket's `updated` is stamped before its transaction commits, so a sync re-reads this
# much history: a commit that lands up to this late is still seen.
SYNC_OVERLAP = timedelta(minutes=5)
EMBED_BATCH = 256
# Leave-one-out scores are only reported (retrieval.calibration): a sample is enough.
LEAVE_ONE_OUT_SAMPLE = 2000
REDACTOR = "privacy.redaction.redact"


def index_text(question: str) -> str:
    """The text a ticket is indexed under: its question, PII-redacted.

    The one redaction call site of retrieval. The redactor is named by a setting (default
    privacy.redaction.redact) so that retrieval does not import chat (STYLE.md §5).
    """
    redact = import_string(getattr(settings, "TICKET_TEXT_REDACTOR", REDACTOR))
    return str(redact(question))


def embed_all(
    encoder: Encoder, texts: list[str], batch: int = EMBED_BATCH, *, documents: bool = True
) -> np.ndarray:
    """Texts to vectors in batches: as tickets to index (`documents`), or as queries."""
    embed = (lambda chunk: embed_documents(encoder, chunk)) if documents else encoder.embed
    parts = [embed(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return np.vstack(parts).astype(np.float32) if parts else np.zeros((0, encoder.dim), np.float32)


def build_ticket_index(
    encoder: Encoder | None,
    directory: Path,
    *,
    encoder_kind: str | None = None,
    fit_texts: list[str] | None = None,
    negative_texts: list[str] | None = None,
    index_kind: str | None = None,
    examples: list[tuple[str, str | None]] | None = None,
) -> TicketIndex:
    """Write a fresh index of every approved ticket into `directory` (a bundle's `index/`).

    Steps: note the time, read approved tickets, redact their questions, fit the ticket
    encoder (retrieval.encoder.DEFAULT_KIND unless `encoder_kind`; its lexical part is fit
    on the tickets plus `fit_texts`, e.g. the intent training texts), embed, build the
    index (exact or IVF by size), calibrate the answer threshold from the best scores of
    `negative_texts` (e.g. the out-of-scope training examples) and the built-in off-topic
    questions (retrieval.calibration), record it and the sync watermark, save index and
    encoder, and the labelled `examples` (text, intent or None for out-of-scope) embedded in
    the same space (retrieval.examples). `encoder` is the bundle's intent model (anything with
    `dim` and `embed`), or None.
    """
    started = timezone.now()
    rows = list(
        Ticket.objects.filter(status=Ticket.Status.APPROVED)
        .order_by("id")
        .values_list("id", "question", "updated")
    )
    texts = [index_text(question) for _, question, _ in rows]
    ticket_encoder, description = fit_ticket_encoder(texts + list(fit_texts or []), encoder, encoder_kind)
    vectors = embed_all(ticket_encoder, texts)
    index = TicketIndex.build(
        [ticket_id for ticket_id, _, _ in rows], vectors, dim=ticket_encoder.dim, kind=index_kind
    )
    index.meta["threshold"] = calibrate_index(index, ticket_encoder, vectors, negative_texts or [])
    index.meta["synced_until"] = started.isoformat()
    # Stamps of what the first sync will re-read, so that it re-embeds only tickets edited since.
    index.meta["recent"] = {
        str(ticket_id): updated.isoformat()
        for ticket_id, _, updated in rows
        if updated >= started - SYNC_OVERLAP
    }
    index.save(Path(directory))
    save_ticket_encoder(ticket_encoder, description, Path(directory))
    if examples:
        example_texts = [index_text(text) for text, _ in examples]
        ExampleSpace(
            embed_all(ticket_encoder, example_texts),
            [label for _, label in examples],
            [len(text.split()) for text, _ in examples],
        ).save(Path(directory))
    return index


def calibrate_index(
    index: TicketIndex, encoder: Encoder, vectors: np.ndarray, negative_texts: list[str]
) -> dict[str, Any]:
    """The answer threshold of a freshly built index and what it was computed from."""
    negatives = list(dict.fromkeys([*OFF_TOPIC, *(index_text(t) for t in negative_texts)]))
    sample = vectors
    if len(vectors) > LEAVE_ONE_OUT_SAMPLE:
        sample = vectors[np.random.default_rng(0).choice(len(vectors), LEAVE_ONE_OUT_SAMPLE, replace=False)]
    negative_scores = best_scores(index, embed_all(encoder, negatives, documents=False))
    summary = calibrate(negative_scores, best_scores(index, sample, exclude_self=True))
    return {**summary, "deployment_negatives": len(negative_texts)}


@dataclass(frozen=True)
class SyncResult:
    added: int
    removed: int


def sync(index: TicketIndex, encoder: Encoder) -> SyncResult:
    """Add tickets approved since the index's watermark; drop ones no longer approved.

    Steps: read tickets updated since the watermark minus SYNC_OVERLAP; embed and add the
    approved ones not yet indexed (or changed since they were); remove indexed ones that are
    now proposed or rejected; move the watermark. Deleted tickets stay until the next
    build, and `approved_tickets` drops them from every answer meanwhile.
    """
    started = timezone.now()
    watermark = index.meta.get("synced_until")
    changed = Ticket.objects.all()
    if watermark:
        changed = changed.filter(updated__gte=datetime.fromisoformat(watermark) - SYNC_OVERLAP)
    recent: dict[str, str] = index.meta.get("recent", {})
    to_add: list[tuple[int, str]] = []
    to_remove: list[int] = []
    seen: dict[str, str] = {}
    for ticket_id, status, question, updated in changed.values_list("id", "status", "question", "updated"):
        stamp = updated.isoformat()
        seen[str(ticket_id)] = stamp
        if status == Ticket.Status.APPROVED:
            if ticket_id not in index or recent.get(str(ticket_id), stamp) != stamp:
                to_add.append((ticket_id, question))
        elif ticket_id in index:
            to_remove.append(ticket_id)
    if to_add:
        vectors = embed_all(encoder, [index_text(question) for _, question in to_add])
        index.add([ticket_id for ticket_id, _ in to_add], vectors)
    removed = index.remove(to_remove)
    index.meta["synced_until"] = started.isoformat()
    # Remember what was seen inside the overlap window, to re-embed only edited tickets.
    index.meta["recent"] = seen
    return SyncResult(added=len(to_add), removed=removed)


class LiveIndex:
    """A bundle's ticket index plus its encoder, kept in step with the ticket table."""

    def __init__(
        self,
        index: TicketIndex,
        encoder: Encoder,
        poll_seconds: float | None = None,
        examples: ExampleSpace | None = None,
    ) -> None:
        if index.dim != encoder.dim:
            raise ValueError(f"index has dimension {index.dim}, its encoder {encoder.dim}")
        if examples is not None and len(examples) and examples.dim != encoder.dim:
            raise ValueError(f"examples have dimension {examples.dim}, the encoder {encoder.dim}")
        self.index = index
        self.encoder = encoder
        self.examples = examples
        self.dim = index.dim
        # The reply policy's bar for offering a ticket, calibrated when the index was built.
        self.min_score = float(index.meta.get("threshold", {}).get("min_score", UNCALIBRATED))
        self.poll_seconds = settings.BUNDLE_POLL_SECONDS if poll_seconds is None else poll_seconds
        self._synced_at: float | None = None
        self._sync_lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path, base: Encoder | None, poll_seconds: float | None = None) -> LiveIndex:
        use_one_thread()
        encoder = load_ticket_encoder(directory, base)
        return cls(TicketIndex.load(directory), encoder, poll_seconds, ExampleSpace.load(directory))

    @classmethod
    def empty(cls, base: Encoder, poll_seconds: float | None = None) -> LiveIndex:
        """For a bundle published without an index: approvals still become searchable."""
        use_one_thread()
        return cls(TicketIndex.empty(base.dim), base, poll_seconds)

    def __len__(self) -> int:
        return len(self.index)

    def maybe_sync(self) -> None:
        """Sync when the last one is older than poll_seconds; one thread syncs, the others search."""
        now = time.monotonic()
        if self._synced_at is not None and now - self._synced_at < self.poll_seconds:
            return
        if not self._sync_lock.acquire(blocking=False):
            return
        try:
            result = sync(self.index, self.encoder)
            if result.added or result.removed:
                log.info("ticket index: %d added, %d removed", result.added, result.removed)
        except Exception:
            # A database hiccup must not break replies: serve what is indexed, retry next poll.
            log.exception("ticket index sync failed")
        finally:
            self._synced_at = time.monotonic()
            self._sync_lock.release()

    def search(self, text: str, k: int = 5) -> list[tuple[int, float]]:
        return self.search_many([text], k)[0]

    def search_many(self, texts: list[str], k: int = 5) -> list[list[tuple[int, float]]]:
        """The k nearest tickets to each text, best first: one embedding batch, one FAISS call."""
        return self.search_and_compare(texts, k)[0]

    def search_and_compare(
        self, texts: list[str], k: int = 5
    ) -> tuple[list[list[tuple[int, float]]], list[Nearest]]:
        """The k nearest tickets to each text, and its nearest examples per intent, in one space."""
        self.maybe_sync()
        if not texts:
            return [], []
        queries = self.encoder.embed(texts)
        nearest = self.examples.nearest(queries) if self.examples is not None else [Nearest() for _ in texts]
        if len(self.index) == 0:
            return [[] for _ in texts], nearest
        # Web processes answer from a thread pool and FAISS is not safe to search while another
        # thread adds: TicketIndex serializes its FAISS calls itself, around the add only, so a
        # sync that reads the database and embeds a large import never holds searches up.
        scores, ids = self.index.search_batch(queries, k)
        return [
            [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
            for row_ids, row_scores in zip(ids, scores, strict=True)
        ], nearest
