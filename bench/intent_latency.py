"""Intent model cost per message at batch 1 and at the batcher's sizes; prints one JSON object.

    OMP_NUM_THREADS=1 .venv/bin/python bench/intent_latency.py INTENT_DIR \
        [--texts ../shared/data/banking77/test.csv] [--batches 1,6,16,32,64] [--full-length-only]

INTENT_DIR is an exported intent model (a bundle's `intent/`, or bench/out/intent-banking77 that
`manage.py bench_index` fine-tunes). Texts come from the CSV's `text` column (BANKING77 test by
default), each used once per measurement so the model's memo of recent texts never answers.
Batch 1 is `IntentModel.predict` (a one-text graph: the shortest the text fits in); batch n is
`predict_many` on n new texts (the batch graphs, as chat/inbox.py's batches reach the model).
`--full-length-only` serves every text with model.tflite alone (as bundles exported before the
shorter graphs did): the same weights' before, for accuracy and latency. With `category` in the CSV and
the model's labels covering it, accuracy (top-ranked intent, no threshold) is reported too: in
batches of 64 (`accuracy`) and one text at a time (`accuracy_one_by_one`). One thread (STYLE.md §20).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--texts", type=Path, default=ROOT.parent / "shared" / "data" / "banking77" / "test.csv")
    parser.add_argument("--batches", default="1,6,16,32,64")
    parser.add_argument("--full-length-only", action="store_true")
    args = parser.parse_args()
    from serving.intents import IntentModel

    model = IntentModel.load(args.model, full_length_only=args.full_length_only)
    with open(args.texts, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    texts = [r["text"] for r in rows]
    model.predict_many(texts[:64])  # warm-up: every graph allocates its tensors on first use
    for text in texts[:32]:  # and every one-text graph
        model.predict(text)
    result: dict = {"model": str(args.model), "texts": len(texts), "load_average": round(os.getloadavg()[0], 2),
                    "one_text_graph_steps": [graph.steps for graph in model._singles],
                    "batch_graph_steps": [graph.steps for graph in model._batch_graphs]}
    for size in [int(b) for b in args.batches.split(",")]:
        per_message = []
        for start in range(0, len(texts) - size + 1, size):
            model._recent.clear()  # the memo would answer texts it has seen
            chunk = texts[start : start + size]
            t0 = time.perf_counter()
            if size == 1:
                model.predict(chunk[0])
            else:
                model.predict_many(chunk)
            per_message.append((time.perf_counter() - t0) / size)
        ms = np.array(per_message) * 1000
        result[f"batch_{size}"] = {
            "per_message_ms_p50": round(float(np.percentile(ms, 50)), 4),
            "per_message_ms_p99": round(float(np.percentile(ms, 99)), 4),
            "calls": len(per_message),
        }
    if rows and "category" in rows[0] and set(r["category"] for r in rows) <= set(model.labels):
        model._recent.clear()
        predicted = [p.ranking[0][0] for start in range(0, len(texts), 64) for p in model.predict_many(texts[start : start + 64])]
        result["accuracy"] = round(float(np.mean([p == r["category"] for p, r in zip(predicted, rows, strict=True)])), 4)
        model._recent.clear()
        alone = [model.predict(text).ranking[0][0] for text in texts]  # the one-text graphs
        result["accuracy_one_by_one"] = round(float(np.mean([p == r["category"] for p, r in zip(alone, rows, strict=True)])), 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
