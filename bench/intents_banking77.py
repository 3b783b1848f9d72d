"""BANKING77 train -> test through the standard pipeline; prints one JSON object.

    .venv/bin/python bench/intents_banking77.py --data-dir /work/shared/data [--report DIR] [--expected-oos-share -1]
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--base", type=Path, default=Path(__file__).resolve().parent.parent / "training" / "base_model")
    parser.add_argument("--from-scratch", action="store_true")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    # BANKING77's test set has no out-of-scope rows: every refusal is a loss, and the bench says so
    # to the threshold rule (as an owner who knows the traffic would). Omit for the rule's default.
    parser.add_argument("--expected-oos-share", type=float, default=0.0,
                        help="as manage.py evaluate_intents; -1: unknown (the rule's default)")
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()

    from knowledge.csvfiles import read_labelled_csv
    from training.evaluation import evaluate
    from training.fit import TqdmProgress

    folder = args.data_dir / "banking77"
    train = read_labelled_csv(folder / "train.csv", intent_column="category", oos_label=None)
    test = read_labelled_csv(folder / "test.csv", intent_column="category", oos_label=None)
    bar = TqdmProgress("banking77")
    result = evaluate(
        *train, *test, None if args.from_scratch else args.base, epochs=args.epochs, seed=args.seed,
        report_dir=args.report, keras_latency_samples=30, progress=bar,
        oos_share=None if args.expected_oos_share < 0 else args.expected_oos_share,
    )
    bar.close()
    print(json.dumps({"bench": "banking77 train->test", **result}))


if __name__ == "__main__":
    main()
