"""The calibrated ticket threshold at corpus scale: BANKING77 train as 10,003 tickets.

    .venv/bin/python bench/retrieval_threshold_corpus.py [--data-dir ../shared/data]

Builds the product's ticket index (hybrid over the intent model cached by `bench_index` in
bench/out/intent-banking77/) in a temporary directory, without and with CLINC150's oos_train
as the deployment's out-of-scope negatives, and reports how many BANKING77 test questions
(all answerable by some ticket) and CLINC150 oos_val questions (none answerable by a banking
ticket; some are banking-flavoured) score at or over the bar. Needs no database rows: the
tickets are indexed directly. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    import django

    django.setup()
    import numpy as np

    from serving.intents import IntentModel
    from retrieval.calibration import best_scores
    from retrieval.encoder import fit_ticket_encoder
    from retrieval.index import TicketIndex
    from retrieval.ingest import calibrate_index, embed_all

    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    def rows(name: str) -> list[str]:
        with open(args.data_dir / "banking77" / name, newline="", encoding="utf-8") as handle:
            return [r["text"] for r in csv.DictReader(handle)]

    clinc = json.loads((args.data_dir / "clinc150" / "clinc150_train_val.json").read_text())
    tickets, queries = rows("train.csv"), rows("test.csv")
    oos_train = [t for t, _ in clinc["oos_train"]]
    oos_val = [t for t, _ in clinc["oos_val"]]
    intents = IntentModel.load(ROOT / "bench" / "out" / "intent-banking77")
    encoder, _ = fit_ticket_encoder(tickets, intents, "hybrid")
    vectors = embed_all(encoder, tickets)
    index = TicketIndex.build(range(len(tickets)), vectors)
    in_scope = best_scores(index, embed_all(encoder, queries, documents=False))
    out_of_scope = best_scores(index, embed_all(encoder, oos_val, documents=False))
    result = {}
    for name, negatives in (("off_topic_only", []), ("with_oos_train", oos_train)):
        calibration = calibrate_index(index, encoder, vectors, negatives)
        bar = calibration["min_score"]
        result[name] = {
            "calibration": calibration,
            "banking77_test_over_bar": round(float(np.mean(in_scope >= bar)), 4),
            "clinc_oos_val_over_bar": round(float(np.mean(out_of_scope >= bar)), 4),
        }
    result["banking77_test_q05_q50"] = [round(float(np.quantile(in_scope, q)), 3) for q in (0.05, 0.5)]
    result["clinc_oos_val_q50_q95"] = [round(float(np.quantile(out_of_scope, q)), 3) for q in (0.5, 0.95)]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
