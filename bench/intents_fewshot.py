"""Few-shot: N examples per BANKING77 intent, fine-tuned from the base vs trained from scratch.

    .venv/bin/python bench/intents_fewshot.py --data-dir /work/shared/data [--shots 10]

Prints one JSON object; both runs use the same sampled rows, the same epochs and the full test set.
"""

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--base", type=Path, default=ROOT / "training" / "base_model")
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    # BANKING77's test set has no out-of-scope rows: every refusal is a loss, and the bench says so
    # to the threshold rule (as an owner who knows the traffic would). Omit for the rule's default.
    parser.add_argument("--expected-oos-share", type=float, default=0.0,
                        help="as manage.py evaluate_intents; -1: unknown (the rule's default)")
    args = parser.parse_args()

    from knowledge.csvfiles import read_labelled_csv
    from training.evaluation import evaluate
    from training.fit import TqdmProgress

    folder = args.data_dir / "banking77"
    texts, intents = read_labelled_csv(folder / "train.csv", intent_column="category", oos_label=None)
    test = read_labelled_csv(folder / "test.csv", intent_column="category", oos_label=None)
    by_intent: dict = {}
    for text, intent in zip(texts, intents):
        by_intent.setdefault(intent, []).append(text)
    rng = random.Random(args.seed)
    sample = [(t, i) for i, rows in sorted(by_intent.items()) for t in rng.sample(rows, args.shots)]
    train = ([t for t, _ in sample], [i for _, i in sample])
    out = {"bench": f"banking77 {args.shots}-shot", "shots": args.shots, "n_train": len(sample),
           "expected_oos_share": None if args.expected_oos_share < 0 else args.expected_oos_share}
    for name, base in (("fine_tuned", args.base), ("from_scratch", None)):
        bar = TqdmProgress(name)
        result = evaluate(*train, *test, base, epochs=args.epochs, seed=args.seed, baseline=name == "fine_tuned",
                          oos_share=None if args.expected_oos_share < 0 else args.expected_oos_share, progress=bar)
        bar.close()
        out[name] = {k: result[k] for k in ("accuracy", "macro_f1", "threshold", "train_seconds", "best_epoch")}
        if name == "fine_tuned":
            out["baseline_accuracy"] = result["baseline_accuracy"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
