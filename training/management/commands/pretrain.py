"""manage.py pretrain --data-dir PATH: rebuild the committed base intent encoder."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    # Offline: touches neither the database nor a served bundle, so it runs without a deployment's
    # settings (a newcomer without SECRET_KEY); checks belong to the server and CI.
    requires_system_checks: list[str] = []
    help = "Pretrain the base intent encoder on BANKING77 + CLINC150 train (+ wiki sentences as out-of-scope)."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", required=True, type=Path, help="Folder with banking77/ and clinc150/.")
        parser.add_argument("--out", type=Path, default=None, help="Output folder (default: settings.BASE_MODEL_DIR).")
        parser.add_argument("--epochs", type=int, default=6)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true", help="Print one JSON object and nothing else.")

    def handle(self, *args, **options):
        from training.fit import TqdmProgress
        from training.pretrain import pretrain

        data_dir = options["data_dir"]
        if not (data_dir / "banking77" / "train.csv").exists():
            raise CommandError(f"{data_dir} has no banking77/train.csv")
        out = options["out"] or Path(settings.BASE_MODEL_DIR)
        bar = TqdmProgress("pretrain")
        try:
            info = pretrain(data_dir, out, epochs=options["epochs"], seed=options["seed"], progress=bar)
        finally:
            bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(info))
        else:
            self.stdout.write(f"Base model written to {out} in {info['seconds']} s ({info['files']}).")
