"""manage.py evaluate_retrieval --tickets T.csv --queries Q.csv [--json]: the encoder against BM25.

A hit is a ticket with the query's intent. Everything happens in memory and a temporary
directory: no ticket, bundle or setting of the running product is read or written.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError



def _fine_tuned_intent_encoder(texts: list[str], intents: list[str], workspace: Path) -> Any:
    """The product's intent encoder fine-tuned from the committed base on the tickets only.

    Imported here, not at module level: only this evaluation needs TensorFlow, and
    retrieval's modules import neither chat nor training (STYLE.md §5).
    """
    from serving.intents import IntentModel
    from training.export import export_trained
    from training.fit import fine_tune

    trained = fine_tune(texts, list(intents), settings.BASE_MODEL_DIR)
    export_trained(trained, workspace / "intent")
    return IntentModel.load(workspace / "intent")


class Command(BaseCommand):
    # --json must print one JSON object and nothing else; checks belong to runserver and CI.
    requires_system_checks: list[str] = []
    help = "Index tickets, query them, and compare the encoder with BM25 on the same data."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tickets", type=Path, required=True, help="CSV of tickets (text + intent)")
        parser.add_argument("--queries", type=Path, required=True, help="CSV of queries (text + intent)")
        parser.add_argument("--text-column", default=None, help="default: question, else text")
        parser.add_argument("--intent-column", default=None, help="default: intent, else category")
        parser.add_argument(
            "--intent-model",
            choices=["auto", "skip"],
            default="auto",
            help="auto: also fine-tune the intent model from BASE_MODEL_DIR on the tickets "
            "(never the queries) and score it alone and in the hybrid; skip: lexical only",
        )
        parser.add_argument("--lexical-weight", type=float, default=None, help="hybrid mix")
        parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")

    def handle(self, *args: Any, **options: Any) -> None:
        from retrieval.benchmark import evaluate, native_logs_captured, product_encoder, read_labelled_csv
        from retrieval.encoder import DEFAULT_KIND, DEFAULT_LEXICAL_WEIGHT, fit_ticket_encoder

        try:
            tickets = read_labelled_csv(options["tickets"], options["text_column"], options["intent_column"])
            queries = read_labelled_csv(options["queries"], options["text_column"], options["intent_column"])
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from exc
        weight = options["lexical_weight"] or DEFAULT_LEXICAL_WEIGHT
        with tempfile.TemporaryDirectory() as workspace:
            candidates: dict[str, Any] = {"lexical": product_encoder("lexical")}
            use_intent = options["intent_model"] == "auto" and (Path(settings.BASE_MODEL_DIR)).is_dir()
            if use_intent:
                started = time.perf_counter()
                with native_logs_captured():
                    intent = _fine_tuned_intent_encoder(tickets.texts, tickets.intents, Path(workspace))
                    intent.embed(["warm-up"])  # TFLite announces its delegate on the first call
                fine_tune_seconds = round(time.perf_counter() - started, 1)
                candidates["intent"] = lambda texts, intents: intent
                # The product's hybrid (lexical half HYBRID_LEXICAL_DIM, not re-normalized).
                candidates["hybrid"] = lambda texts, _: fit_ticket_encoder(texts, intent, "hybrid", weight)[0]
            chosen = {"base": "intent"}.get(DEFAULT_KIND, DEFAULT_KIND)
            if chosen not in candidates:
                chosen = "lexical"
            result = evaluate(tickets, queries, candidates, chosen)
        result["intent_model"] = "fine-tuned from BASE_MODEL_DIR on the tickets" if use_intent else "not used"
        if use_intent:
            result["intent_fine_tune_seconds"] = fine_tune_seconds
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for key, value in result.items():
            self.stdout.write(f"{key:>18}: {value}")
