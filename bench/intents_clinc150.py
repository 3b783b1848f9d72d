"""CLINC150 train(+oos_train) -> val(+oos_val) through `manage.py evaluate_intents`; prints one JSON object.

    .venv/bin/python bench/intents_clinc150.py --data-dir /work/shared/data [--seed 0] [--report DIR]

The CLINC json is written to CSVs in a temp dir, then the command runs exactly as a user would
run it (`--oos-label oos`), so thresholds come from a held-out part of train, never from val.
"""

import argparse
import io
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--base", type=Path, default=ROOT / "training" / "base_model")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command

    from training.dataset import clinc150_splits, write_labelled_csv

    splits = clinc150_splits(args.data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (texts, intents) in splits.items():
            write_labelled_csv(Path(tmp) / f"{name}.csv", texts, intents)
        out = io.StringIO()
        options = {"train": Path(tmp) / "train.csv", "test": Path(tmp) / "val.csv", "oos_label": "oos",
                   "base": args.base, "epochs": args.epochs, "seed": args.seed, "json": True, "stdout": out}
        if args.report:
            options["report"] = args.report
        call_command("evaluate_intents", **options)
    print(json.dumps({"bench": "clinc150 train->val with oos", **json.loads(out.getvalue())}))


if __name__ == "__main__":
    main()
