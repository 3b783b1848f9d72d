"""CPU cost per message of what the answer helper runs for a batch; prints one JSON object.

    OMP_NUM_THREADS=1 .venv/bin/python bench/evidence_cost.py BUNDLE_DIR [--batches 1,16] [--messages 1600]

Loads one published bundle (serving.registry.LoadedBundle) as a web process does and answers
new shop questions (bench/load.py's, with random order numbers: no memo or cache of recent
texts can answer them) in batches, timing per message (median of --repeats passes): the intent
model (`predict_many`), the evidence (`evidence_many`: the hybrid embedding, the nearest tickets
and examples) and, inside it, the lexical half of the encoder alone. Run it from another
checkout (`cd /work/main && .venv/bin/python /path/to/bench/evidence_cost.py ...` reads that
checkout's code) to compare two versions on the same machine back to back.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--messages", type=int, default=1600)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import django

    django.setup()
    from bench.load import DETAILS, QUESTIONS
    from serving.registry import LoadedBundle

    bundle = LoadedBundle(args.bundle)
    encoder = bundle.index.encoder
    lexical = getattr(encoder, "lexical", None)
    rng = random.Random(0)

    def texts(n: int) -> list[str]:
        return [f"{rng.choice(QUESTIONS)} {rng.choice(DETAILS).format(n=rng.randint(1000, 99999))}" for _ in range(n)]

    bundle.predict_many(texts(64))  # warm-up: every graph allocates its tensors on first use
    bundle.evidence_many(texts(64))
    result: dict = {"bundle": str(args.bundle), "code": os.getcwd(), "load_average": round(os.getloadavg()[0], 2)}
    for size in [int(b) for b in args.batches.split(",")]:
        passes: dict[str, list[float]] = {"predict_many": [], "evidence_many": [], "lexical_embed": []}
        n = args.messages if size > 1 else args.messages // 4
        for _ in range(args.repeats):
            batches = [texts(size) for _ in range(n // size)]
            spent = dict.fromkeys(passes, 0.0)
            for batch in batches:
                t0 = time.process_time()
                bundle.predict_many(batch)  # fills the memo evidence_many's sentence vectors come from
                t1 = time.process_time()
                bundle.evidence_many(batch)
                t2 = time.process_time()
                spent["predict_many"] += t1 - t0
                spent["evidence_many"] += t2 - t1
            if lexical is not None:
                t0 = time.process_time()
                for batch in batches:
                    lexical.embed(batch)
                spent["lexical_embed"] += time.process_time() - t0
            for name in passes:
                passes[name].append(spent[name] / (len(batches) * size) * 1000)
        result[f"batch_{size}"] = {f"{name}_cpu_ms": round(statistics.median(v), 4) for name, v in passes.items()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
