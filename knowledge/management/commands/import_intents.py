"""manage.py import_intents FILE.csv: load intents and labelled examples (idempotent)."""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser, CommandError
from django.db import transaction
from django.utils.text import slugify

from knowledge.csvfiles import CsvError, read_rows
from knowledge.models import Intent, TrainingExample


class Command(BaseCommand):
    help = "Import labelled examples from a CSV (rows labelled --oos-label are out-of-scope) and answers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--text-column", default="text")
        parser.add_argument("--intent-column", default="intent")
        parser.add_argument("--oos-label", default="oos")
        parser.add_argument("--answers", type=Path, default=None, help="CSV with columns intent,answer.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object and nothing else.")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = self._read(options["file"], options["text_column"], options["intent_column"])
        answers = self._read(options["answers"], "intent", "answer") if options["answers"] else []
        with transaction.atomic():
            result = import_examples(rows, answers, oos_label=options["oos_label"])
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"{result['intents_created']} intents created, {result['examples_created']} examples added "
                f"({result['examples_skipped']} already present), {result['answers_set']} answers set."
            )
        warning = suspicious(result)
        if warning:
            self.stderr.write(f"Check this import before retraining: {warning}.")

    @staticmethod
    def _read(path: Path, first: str, second: str) -> list[tuple[str, str]]:
        try:
            return [(r[first], r[second]) for r in read_rows(path, [first, second])]
        except CsvError as exc:
            raise CommandError(str(exc)) from exc


def import_examples(rows: list[tuple[str, str]], answers: list[tuple[str, str]], *, oos_label: str) -> dict[str, int]:
    """Create missing intents and examples; an example already stored with the same label is skipped."""
    intents = {i.name: i for i in Intent.objects.all()}
    created_intents = 0

    def intent_for(label: str) -> Intent:
        nonlocal created_intents
        name = slugify(label)[:100] or label[:100]
        if name not in intents:
            intents[name], made = Intent.objects.get_or_create(name=name)
            created_intents += made
        return intents[name]

    existing: set[tuple[str, int | None, bool]] = set(TrainingExample.objects.values_list("text", "intent_id", "is_oos"))
    new, skipped = [], 0
    for text, label in rows:
        if not text or not label:
            continue
        is_oos = label == oos_label
        intent = None if is_oos else intent_for(label)
        key = (text, intent.pk if intent else None, is_oos)
        if key in existing:
            skipped += 1
            continue
        existing.add(key)
        new.append(TrainingExample(text=text, intent=intent, is_oos=is_oos, origin=TrainingExample.Origin.IMPORT))
    TrainingExample.objects.bulk_create(new, batch_size=1000)

    answers_set = 0
    for label, answer in answers:
        if label and answer:
            intent = intent_for(label)
            if intent.answer != answer:
                intent.answer = answer
                intent.save(update_fields=["answer", "updated"])
            answers_set += 1
    return {
        "intents_created": created_intents,
        "examples_created": len(new),
        "examples_skipped": skipped,
        "answers_set": answers_set,
        "conflicting_texts": len(conflicting_texts({text for text, _ in rows if text})),
    }


def conflicting_texts(texts: set[str] | None = None) -> dict[str, list[str]]:
    """Texts labelled with more than one label (an intent, or out-of-scope), among `texts` or all."""
    labels: dict[str, set[str]] = {}
    examples = TrainingExample.objects.all() if texts is None else TrainingExample.objects.filter(text__in=texts)
    for text, intent, is_oos in examples.values_list("text", "intent__name", "is_oos"):
        labels.setdefault(text, set()).add("oos" if is_oos else str(intent))
    return {text: sorted(found) for text, found in labels.items() if len(found) > 1}


def suspicious(result: dict[str, int]) -> str | None:
    """Why an import looks like poisoned or junk data (many new intents, one text with several
    labels), to show before anyone trains on it; None when it looks ordinary."""
    reasons = []
    if result["intents_created"] > settings.IMPORT_MAX_NEW_INTENTS:
        reasons.append(f"it created {result['intents_created']} new intents")
    if result["conflicting_texts"]:
        reasons.append(f"{result['conflicting_texts']} of its texts carry different labels")
    return "; ".join(reasons) or None
