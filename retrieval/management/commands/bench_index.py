"""manage.py bench_index --size N [--json]: cost of a ticket index of N product-shaped vectors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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
        parser.add_argument("--queries", type=int, default=1000, help="held-out texts used as queries")
        parser.add_argument("--noise", type=float, default=0.3, help="norm of each perturbation")
        parser.add_argument("--index-type", choices=["flat", "ivf"], default=None, help="default: by size")
        parser.add_argument("--nprobe-sweep", default="", help="comma-separated nprobe values to report")
        parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")

    def handle(self, *args: Any, **options: Any) -> None:
        from retrieval.benchmark import bench_index

        sweep = [int(n) for n in options["nprobe_sweep"].split(",") if n.strip()]
        result = bench_index(
            options["size"],
            options["data_dir"],
            queries=options["queries"],
            noise=options["noise"],
            kind=options["index_type"],
            nprobes=sweep,
        )
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for key, value in result.items():
            self.stdout.write(f"{key:>16}: {value}")
