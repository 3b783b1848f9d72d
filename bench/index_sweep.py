"""Sweep ticket-index layouts and parameters on product-shaped vectors; print one JSON object.

    OMP_NUM_THREADS=1 .venv/bin/python bench/index_sweep.py --size 1000000 \
        --data-dir ../shared/data > bench/out/index_sweep_1m.json

The workload is `manage.py bench_index`'s (retrieval.benchmark): the public texts encoded by the
product's ticket encoder (hybrid, over the intent model fine-tuned on BANKING77 train), 1,000 held
out as queries, the rest expanded to --size by copies moved by Gaussian noise. The encoded texts
are cached in bench/out/ so a sweep re-encodes nothing. Each layout is built once (all cores,
timed), then searched one query at a time on one thread through TicketIndex.search for every
(nprobe, rerank) pair; recall@10 is against exact search over the same vectors. Each row also
carries the plain IVF baseline's latency from the same run (`vs_ivf`), because on a shared
machine only ratios within one run compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import django
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def workload(data_dir: Path, cache: Path) -> tuple[np.ndarray, np.ndarray, list[float]]:
    if cache.exists():
        saved = np.load(cache)
        return saved["real"], saved["queries"], saved["encode_seconds"].tolist()
    from retrieval.benchmark import encoded_workload, native_logs_captured, product_encoder
    from training.management.commands.bench_index import _intent_model

    with native_logs_captured():
        intents = _intent_model(ROOT / "bench" / "out" / "intent-banking77", data_dir)
        intents.embed(["warm-up"])
        work = encoded_workload(data_dir, 1000, product_encoder(None, intents))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, real=work.real, queries=work.queries, encode_seconds=np.array(work.encode_seconds))
    return work.real, work.queries, work.encode_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument(
        "--layouts",
        default="ivf,ivfpq:1024,ivfpq:2048,ivfpq:4096",
        help="comma-separated kind[:nlist]; the first should be the baseline",
    )
    parser.add_argument("--nprobes", default="16,32,48,64")
    parser.add_argument("--reranks", default="50,100,200")
    args = parser.parse_args()
    django.setup()
    from retrieval.benchmark import exact_neighbours, expand, index_memory_mb, measure_search
    from retrieval.index import TicketIndex, use_threads

    real, queries, encode_seconds = workload(args.data_dir, ROOT / "bench" / "out" / "index_sweep_vectors.npz")
    vectors = expand(real, args.size, args.noise)
    started = time.perf_counter()
    truth = exact_neighbours(vectors, queries)
    rows, baseline_p50 = [], None
    out = {
        "size": args.size,
        "dim": int(vectors.shape[1]),
        "real_texts": len(real),
        "noise": args.noise,
        "cores": os.cpu_count(),
        "exact_seconds_all_cores": round(time.perf_counter() - started, 1),
        "load_average_start": load_average(),
        "encode_ms_p50": round(float(np.percentile(encode_seconds, 50) * 1000), 3),
        "rows": rows,
    }
    for layout in args.layouts.split(","):
        kind, _, nlist = layout.partition(":")
        use_threads(os.cpu_count() or 1)
        started = time.perf_counter()
        index = TicketIndex.build(np.arange(args.size), vectors, kind=kind, nlist=int(nlist) if nlist else None)
        build = round(time.perf_counter() - started, 1)
        memory = index_memory_mb(index)
        reranks = [int(r) for r in args.reranks.split(",")] if kind == "ivfpq" else [None]
        for nprobe in [int(n) for n in args.nprobes.split(",")]:
            index.set_nprobe(nprobe)
            for rerank in reranks:
                if rerank is not None:
                    index.rerank = rerank
                measured = measure_search(index, queries, truth)
                if baseline_p50 is None:
                    baseline_p50 = measured["latency_ms_p50"]
                row = {
                    "kind": kind,
                    "nlist": int(index._cpu.nlist),
                    "nprobe": nprobe,
                    "rerank": rerank,
                    "build_seconds": build,
                    "memory_mb": memory,
                    **measured,
                    "vs_ivf": round(measured["latency_ms_p50"] / baseline_p50, 3),
                    "load_average": load_average(),
                }
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
        del index
    print(json.dumps(out))


if __name__ == "__main__":
    main()
