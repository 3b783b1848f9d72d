import json

from django.core.management.base import BaseCommand, CommandError

from serving import registry
from training.models import TrainingRun


class Command(BaseCommand):
    help = "Fine-tune from the base on the database's examples, evaluate, and publish if the gate passes."

    def add_arguments(self, parser):
        parser.add_argument("--async", dest="run_async", action="store_true",
                            help="queue the run on the Celery worker and return at once")
        parser.add_argument("--if-none-active", action="store_true",
                            help="do nothing when a model is already active (used by `make run`)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")

    def handle(self, *args, run_async, if_none_active, as_json, **options):
        if if_none_active and registry.active_bundle() is not None:
            return self.emit(as_json, {"status": "skipped", "active": registry.active_version()})
        if run_async:
            from django.db import transaction

            from training.tasks import enqueue

            with transaction.atomic():
                run = enqueue("command")
            return self.emit(as_json, {"run": run.pk, "status": run.status})
        from training.pipeline import create_run, retrain

        if not as_json:
            self.stdout.write("Retraining (fine-tuning from the base model)...")
        run = retrain(create_run("command").pk)
        result = {"run": run.pk, "status": run.status, "version": run.version.version if run.version else None,
                  "metrics": {k: run.metrics.get(k) for k in ("accuracy", "macro_f1", "oos_recall", "gate")},
                  "error": run.error or None}
        self.emit(as_json, result)
        if run.status == TrainingRun.Status.FAILED:
            raise CommandError(run.error)

    def emit(self, as_json: bool, payload: dict) -> None:
        if as_json:
            self.stdout.write(json.dumps(payload))
        else:
            self.stdout.write(", ".join(f"{k}: {v}" for k, v in payload.items()))
