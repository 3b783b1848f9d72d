"""Measure privacy.redaction.redact on tests/data/pii_corpus.jsonl and on random digit strings.

Usage: .venv/bin/python bench/redaction.py [--corpus tests/data/pii_corpus.jsonl] [--examples 5]

Prints JSON: recall (the PII value is gone) and typed recall (gone, and the right placeholder
was inserted) per kind and overall, misses by format, damage to non-PII in positive sentences
("keep" substrings), false positives on the negative sentences by category, flag rates on
random digit strings, and the mean time per message.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from privacy.redaction import luhn_valid, redact, redact_counted  # noqa: E402  (after sys.path)


def corpus_scores(rows: list[dict[str, Any]], examples: int) -> dict[str, Any]:
    total, caught, typed = Counter[str](), Counter[str](), Counter[str]()
    missed_by_format: dict[str, list[str]] = defaultdict(list)
    mistyped: list[dict[str, Any]] = []
    damaged: list[dict[str, str]] = []
    negatives, fp_by_category = Counter[str](), Counter[str]()
    fp_examples: list[dict[str, str]] = []
    for row in rows:
        out, found = redact_counted(row["text"])
        kind = row["kind"]
        if kind is None:
            negatives[row["format"]] += 1
            if out != row["text"]:
                fp_by_category[row["format"]] += 1
                fp_examples.append({"text": row["text"], "redacted": out})
            continue
        total[kind] += 1
        if row["value"] in out:
            missed_by_format[f"{kind}/{row['format']}"].append(row["text"])
            continue
        caught[kind] += 1
        if found.get(kind):
            typed[kind] += 1
        else:
            mistyped.append({"text": row["text"], "redacted": out, "found": found})
        damaged += [{"text": row["text"], "redacted": out} for keep in row["keep"] if keep not in out]
    n_pos, n_neg = sum(total.values()), sum(negatives.values())
    return {
        "positives": n_pos,
        "recall": round(sum(caught.values()) / n_pos, 4),
        "typed_recall": round(sum(typed.values()) / n_pos, 4),
        "by_kind": {k: {"n": total[k], "recall": round(caught[k] / total[k], 4),
                        "typed_recall": round(typed[k] / total[k], 4)} for k in sorted(total)},  # fmt: skip
        "misses": {fmt: {"n": len(texts), "examples": texts[:examples]} for fmt, texts in sorted(missed_by_format.items())},
        "mistyped": {"n": len(mistyped), "examples": mistyped[:examples]},
        "non_pii_damaged_in_positives": {"n": len(damaged), "examples": damaged[:examples]},
        "negatives": n_neg,
        "false_positives": sum(fp_by_category.values()),
        "false_positive_rate": round(sum(fp_by_category.values()) / n_neg, 4),
        "false_positives_by_category": dict(fp_by_category),
        "false_positive_examples": fp_examples[:examples],
    }


def random_digit_scores(seed: int, n: int) -> dict[str, Any]:
    """How often bare random numbers get redacted, by length and Luhn validity."""
    rng = random.Random(seed)
    flagged: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _ in range(n):
        length = rng.randint(6, 22)
        digits = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(length - 1))
        bucket = f"{length:02d}-luhn-valid" if 13 <= length <= 19 and luhn_valid(digits) else f"{length:02d}"
        text = f"reference {digits} please"
        flagged[bucket][0] += redact(text) != text
        flagged[bucket][1] += 1
    non_card = [v for k, v in flagged.items() if not k.endswith("luhn-valid")]
    return {
        "n": n,
        "flag_rate_excluding_luhn_valid_13_19": round(sum(f for f, _ in non_card) / sum(t for _, t in non_card), 4),
        "flagged_by_length": {k: f"{f}/{t}" for k, (f, t) in sorted(flagged.items()) if f},
        "note": "Luhn-valid 13-19 digit runs are cards by design (about 1 in 10 random runs of those lengths)",
    }


def timing(rows: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    texts = [r["text"] for r in rows]
    clean = ["Hi, my parcel still hasn't arrived, can you help me please?"] * len(texts)
    result = {}
    for name, batch in (("corpus_us_per_message", texts), ("no_digit_us_per_message", clean)):
        start = time.perf_counter()
        for _ in range(repeat):
            for t in batch:
                redact(t)
        result[name] = round((time.perf_counter() - start) / (repeat * len(batch)) * 1e6, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "pii_corpus.jsonl")
    parser.add_argument("--examples", type=int, default=5)
    parser.add_argument("--random", type=int, default=20_000, help="random digit strings to try")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines() if line]
    report = {
        "corpus": str(args.corpus.relative_to(ROOT)) if args.corpus.is_relative_to(ROOT) else str(args.corpus),
        **corpus_scores(rows, args.examples),
        "random_digit_strings": random_digit_scores(seed=11, n=args.random),
        "timing": timing(rows, repeat=3),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
