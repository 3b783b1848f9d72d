"""manage.py evaluate_intents --train TRAIN.csv --test TEST.csv: the standard pipeline on one split."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    # Offline: touches neither the database nor a served bundle, so it runs without a deployment's
    # settings (a newcomer without SECRET_KEY); checks belong to the server and CI.
    requires_system_checks: list[str] = []
    help = (
        "Fine-tune from the base on TRAIN, pick thresholds on a held-out part of TRAIN, export the "
        "quantized serving model and score it on TEST. Touches neither the database nor the active bundle."
    )

    def add_arguments(self, parser):
        parser.add_argument("--train", required=True, type=Path)
        parser.add_argument("--test", required=True, type=Path)
        parser.add_argument("--text-column", default=None, help="Default: the first of text, sentence, utterance, query, message, question.")
        parser.add_argument("--intent-column", default=None, help="Default: the first of intent, label, category, class.")
        parser.add_argument("--oos-label", default="oos", help=(
            "Rows with this intent are out-of-scope; so are test rows whose intent no training row has."))
        parser.add_argument("--report", type=Path, default=None, help="Write per-intent metrics and plots here.")
        parser.add_argument("--base", type=Path, default=None, help="Base model folder (default: settings.BASE_MODEL_DIR).")
        parser.add_argument("--from-scratch", action="store_true", help="Skip the base (for comparison).")
        parser.add_argument("--expected-oos-share", type=float, default=None, metavar="SHARE", help=(
            "For training data without out-of-scope rows: the share (0-1) of messages expected to be out "
            "of scope, which weighs refusing against answering (0: a closed set, nothing refused). "
            "Default: unknown, weighed as half."))
        parser.add_argument("--epochs", type=int, default=12, help=(
            "Fine-tuning epochs; small data gets more, up to training.fit.MIN_TRAIN_STEPS optimizer steps."))
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-baseline", action="store_true")
        parser.add_argument("--json", action="store_true", help="Print one JSON object and nothing else.")

    def handle(self, *args, **options):
        from knowledge.csvfiles import CsvError, read_labelled_csv
        from training.calibration import check_oos_share
        from training.evaluation import evaluate, unknown_as_out_of_scope
        from training.fit import TqdmProgress

        if options["expected_oos_share"] is not None:
            try:
                check_oos_share(options["expected_oos_share"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc

        def read(path: Path) -> tuple[list[str], list[str | None]]:
            return read_labelled_csv(path, text_column=options["text_column"], intent_column=options["intent_column"],
                                     oos_label=options["oos_label"])

        try:
            train_texts, train_intents = read(options["train"])
            test_texts, test_intents = read(options["test"])
        except CsvError as exc:
            raise CommandError(str(exc)) from exc
        test_intents, unknown = unknown_as_out_of_scope(train_intents, test_intents)
        if unknown:
            self.stderr.write(f"out of scope: {len(unknown)} test label(s) that no training row has: {', '.join(unknown[:10])}"
                              + (" …" if len(unknown) > 10 else ""))
        base = None if options["from_scratch"] else (options["base"] or Path(settings.BASE_MODEL_DIR))
        bar = TqdmProgress("fine-tune")
        try:
            result = evaluate(
                train_texts, train_intents, test_texts, test_intents, base,
                epochs=options["epochs"], seed=options["seed"], report_dir=options["report"],
                baseline=not options["no_baseline"], oos_share=options["expected_oos_share"], progress=bar,
            )
        finally:
            bar.close()
        result["test_labels_unknown_to_training"] = unknown
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for key in ("accuracy", "in_scope_accuracy", "oos_recall", "oos_precision", "macro_f1", "mcc",
                    "baseline_accuracy", "threshold", "train_seconds", "latency_ms_p50", "latency_ms_p99"):
            value = result.get(key)
            self.stdout.write(f"{key:>20}: {value:.4f}" if isinstance(value, float) else f"{key:>20}: {value}")
