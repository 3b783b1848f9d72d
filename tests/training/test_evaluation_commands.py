"""The retrieval commands: --json prints exactly one JSON object with the documented keys."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from knowledge.models import Ticket

ROWS = [
    ("my card has not arrived yet", "card_arrival"),
    ("where is my new card", "card_arrival"),
    ("card still not delivered", "card_arrival"),
    ("how do I reset my password", "password"),
    ("forgot my password", "password"),
    ("cannot log in, password rejected", "password"),
    ("what is the exchange rate for euros", "exchange_rate"),
    ("exchange rate seems wrong", "exchange_rate"),
    ("which rate do you use to exchange dollars", "exchange_rate"),
]


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run_json(*args: object) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_import_tickets_creates_approved_tickets_and_skips_empty_rows(tmp_path):
    path = write_csv(
        tmp_path / "t.csv", ["q", "a", "intent"], [("where is my card", "it ships in 3 days", "card"), ("", "x", "")]
    )
    result = run_json("import_tickets", str(path), "--question-column", "q", "--answer-column", "a", "--approved")
    assert result == {"created": 1, "skipped": 1, "approved": True}
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.intent, ticket.approved_at is not None) == ("approved", "card", True)


@pytest.mark.django_db
def test_imported_tickets_await_approval_by_default(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["question", "answer"], [("where is my card", "soon")])
    run_json("import_tickets", str(path))
    assert Ticket.objects.get().status == Ticket.Status.PROPOSED


def test_evaluate_retrieval_reports_the_encoder_beside_bm25(tmp_path):
    tickets = write_csv(tmp_path / "t.csv", ["text", "category"], ROWS)
    queries = write_csv(
        tmp_path / "q.csv", ["text", "category"], [("my card never came", "card_arrival"), ("password reset", "password")]
    )
    result = run_json(
        "evaluate_retrieval", "--tickets", str(tickets), "--queries", str(queries), "--intent-model", "skip"
    )
    for key in ("p_at_1", "mrr", "recall_at_5", "bm25_p_at_1", "bm25_mrr", "bm25_recall_at_5",
                "latency_ms_p50", "latency_ms_p99"):
        assert isinstance(result[key], float), key
    assert result["queries"] == 2 and result["tickets"] == len(ROWS)


def test_bench_index_reports_cost_and_recall(tmp_path):
    data = tmp_path / "data"
    (data / "banking77").mkdir(parents=True)
    texts = [f"{a} {b} card {n}" for n, (a, b) in enumerate(zip(["lost", "new", "old", "blue"] * 15, ["please", "now"] * 30))]
    write_csv(data / "banking77" / "train.csv", ["text", "category"], [(t, "x") for t in texts])
    result = run_json("bench_index", "--size", "400", "--queries", "10", "--data-dir", str(data), "--encoder", "lexical")
    for key in ("dim", "build_seconds", "memory_mb", "latency_ms_p50", "latency_ms_p99", "recall_at_10",
                "index_type", "gpu"):
        assert key in result, key
    assert result["index_type"] == "flat" and result["recall_at_10"] == 1.0
