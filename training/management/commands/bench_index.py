"""manage.py bench_index --size N [--json]: cost of a ticket index of N product-shaped vectors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand



def _intent_model(directory: Path, data_dir: Path) -> Any:
    """An exported intent model from `directory`; fine-tuned there first when it holds none.

    The fine-tune is the product's own (training.fit.fine_tune from BASE_MODEL_DIR) on
    BANKING77's train split. Imported here: retrieval modules import neither chat nor
    training (STYLE.md §5), and only this benchmark needs them.
    """
    from serving.intents import IntentModel

    if not (directory / "labels.json").exists():
        from training.export import export_trained
        from training.fit import fine_tune

        with open(data_dir / "banking77" / "train.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        trained = fine_tune([r["text"] for r in rows], [r["category"] for r in rows], settings.BASE_MODEL_DIR)
        export_trained(trained, directory)
    return IntentModel.load(directory)


class Command(BaseCommand):
    # --json must print one JSON object and nothing else; checks belong to runserver and CI.
    requires_system_checks: list[str] = []
    help = "Build an index of N vectors (real encoded texts expanded by perturbation) and measure it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--size", type=int, required=True)
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=Path(settings.BASE_DIR).parent / "shared" / "data",
            help="public corpora (banking77/, clinc150/); default ../shared/data",
        )
        parser.add_argument(
            "--encoder",
            choices=["product", "base", "hybrid", "lexical"],
            default="product",
            help="product: the ticket encoder a bundle gets (retrieval.encoder.DEFAULT_KIND) over an "
            "intent model; base/hybrid: that kind over it; lexical: the fallback, no TensorFlow",
        )
        parser.add_argument(
            "--intent-dir",
            type=Path,
            default=Path(settings.BASE_DIR) / "bench" / "out" / "intent-banking77",
            help="exported intent model; fine-tuned from BASE_MODEL_DIR on BANKING77 train if absent",
        )
        parser.add_argument("--queries", type=int, default=1000, help="held-out texts used as queries")
        parser.add_argument("--noise", type=float, default=0.3, help="norm of each perturbation")
        parser.add_argument("--index-type", choices=["flat", "ivf", "ivfpq"], default=None, help="default: by size")
        parser.add_argument("--nprobe-sweep", default="", help="comma-separated nprobe values to report")
        parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")

    def handle(self, *args: Any, **options: Any) -> None:
        from retrieval.benchmark import bench_index, native_logs_captured, product_encoder

        if options["encoder"] == "lexical":
            factory, name = product_encoder("lexical"), "lexical"
        else:
            from retrieval.encoder import DEFAULT_KIND

            with native_logs_captured():
                intents = _intent_model(options["intent_dir"], options["data_dir"])
                intents.embed(["warm-up"])  # TFLite announces its delegate on the first call
            name = DEFAULT_KIND if options["encoder"] == "product" else options["encoder"]
            factory = product_encoder(name, intents)
        sweep = [int(n) for n in options["nprobe_sweep"].split(",") if n.strip()]
        result = bench_index(
            options["size"],
            options["data_dir"],
            queries=options["queries"],
            noise=options["noise"],
            kind=options["index_type"],
            nprobes=sweep,
            encoder_factory=factory,
        )
        result["encoder"] = name
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for key, value in result.items():
            self.stdout.write(f"{key:>16}: {value}")
