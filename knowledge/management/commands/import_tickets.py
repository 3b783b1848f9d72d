"""manage.py import_tickets FILE.csv [--question-column ...] [--answer-column ...] [--approved]."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    # --json must print one JSON object and nothing else; checks belong to runserver and CI.
    requires_system_checks: list[str] = []
    help = "Create tickets from a CSV; proposals awaiting approval unless --approved."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--question-column", default="question")
        parser.add_argument("--answer-column", default="answer")
        parser.add_argument("--intent-column", default="intent")
        parser.add_argument(
            "--approved", action="store_true", help="approve on import: live indexes serve them within a minute"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")

    def handle(self, *args: Any, **options: Any) -> None:
        from knowledge.tickets import import_tickets_csv

        try:
            result = import_tickets_csv(
                options["file"],
                question_column=options["question_column"],
                answer_column=options["answer_column"],
                intent_column=options["intent_column"],
                approved=options["approved"],
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        summary = {"created": result.created, "skipped": result.skipped, "approved": result.approved}
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            state = "approved" if result.approved else "awaiting approval"
            self.stdout.write(f"{result.created} tickets created ({state}), {result.skipped} rows skipped")
