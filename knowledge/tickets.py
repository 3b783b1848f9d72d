"""Actions on tickets: propose, approve, reject, import from CSV, and the approved-only filter.

Status changes go through these functions (or `Ticket.save()`), never `QuerySet.update()`:
ingestion finds changed tickets by `updated`, which only `save()` and `bulk_create` set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from knowledge.csvfiles import read_rows
from knowledge.models import Ticket


class ScoredTicketId(Protocol):
    ticket_id: int
    score: float


def propose_ticket(conversation_id: int, question: str, resolution: str, intent: str = "") -> Ticket:
    """A conversation closed by an agent with a resolution becomes a proposal awaiting approval."""
    return Ticket.objects.create(
        conversation_id=conversation_id,
        question=question.strip(),
        resolution=resolution.strip(),
        intent=intent,
        status=Ticket.Status.PROPOSED,
    )


def approve_ticket(ticket: Ticket, user: Any = None) -> Ticket:
    """Approve; every web process serves it within BUNDLE_POLL_SECONDS (retrieval.ingest.sync)."""
    ticket.status = Ticket.Status.APPROVED
    ticket.approved_by = user
    ticket.approved_at = timezone.now()
    ticket.save(update_fields=["status", "approved_by", "approved_at", "updated"])
    return ticket


def reject_ticket(ticket: Ticket) -> Ticket:
    """Reject (also after approval); the next sync drops it from every live index."""
    ticket.status = Ticket.Status.REJECTED
    ticket.save(update_fields=["status", "updated"])
    return ticket


def approved_tickets(hits: Iterable[ScoredTicketId]) -> list[tuple[Ticket, float]]:
    """The hits' tickets in hit order, dropping any that is missing or not approved."""
    hits = list(hits)
    # Only what a reply reads (its question, resolution and intent): a batch of answers asks for
    # a few hundred hits, and whole rows (three timestamps each) cost 1.7 ms of CPU per batch of
    # 200 hits on 60 tickets against 1.0 (issue 20). Another field read later costs a query.
    found = Ticket.objects.filter(
        id__in={hit.ticket_id for hit in hits}, status=Ticket.Status.APPROVED
    ).only("id", "question", "resolution", "intent").in_bulk()
    return [(found[hit.ticket_id], hit.score) for hit in hits if hit.ticket_id in found]


@dataclass(frozen=True)
class ImportResult:
    created: int
    skipped: int
    approved: bool


def import_tickets_csv(
    path: Path,
    *,
    question_column: str = "question",
    answer_column: str = "answer",
    intent_column: str = "intent",
    approved: bool = False,
    user: Any = None,
    batch_size: int = 1000,
) -> ImportResult:
    """Create one ticket per CSV row with a question and an answer; rows missing either are skipped.

    Tickets are proposals unless `approved`; approved ones reach live indexes by ingestion.
    """
    created = skipped = 0
    now = timezone.now()
    rows = read_rows(path, [question_column, answer_column])
    batch: list[Ticket] = []
    with transaction.atomic():
        for row in rows:
            question, answer = row[question_column], row[answer_column]
            if not question or not answer:
                skipped += 1
                continue
            batch.append(
                Ticket(
                    question=question,
                    resolution=answer,
                    intent=row.get(intent_column, "")[:100],
                    status=Ticket.Status.APPROVED if approved else Ticket.Status.PROPOSED,
                    approved_by=user if approved else None,
                    approved_at=now if approved else None,
                )
            )
            if len(batch) >= batch_size:
                Ticket.objects.bulk_create(batch)
                created += len(batch)
                batch = []
        Ticket.objects.bulk_create(batch)
        created += len(batch)
    return ImportResult(created=created, skipped=skipped, approved=approved)
