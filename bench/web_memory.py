"""What a web-side process holds after answering: resident memory and the heavy modules loaded.

    .venv/bin/python bench/web_memory.py BUNDLE_DIR [--messages 1000]

Sets Django up as the web process's answer helper does (chat.inbox.setup_answering_process), loads one published bundle
(serving.registry.LoadedBundle: the intent runtime, the ticket index and its encoder), answers
--messages customer questions through the bundle in batches of 16 (the batcher's usual size under
load) and prints one JSON object: RSS after each step (MB), and which heavy libraries the
process imported. No database or socket is needed; bench/load.py measures the live processes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

HEAVY = ("numpy", "scipy", "sklearn", "faiss", "ai_edge_litert", "tensorflow", "keras", "pandas", "matplotlib")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    steps = {"python": rss_mb()}
    from chat.inbox import setup_answering_process

    setup_answering_process()  # as the answer helper sets Django up (no admin autodiscovery)
    steps["django_setup"] = rss_mb()
    from bench.load import DETAILS, QUESTIONS
    from serving.registry import LoadedBundle

    bundle = LoadedBundle(args.bundle)
    steps["bundle_loaded"] = rss_mb()
    rng = random.Random(0)
    texts = [f"{rng.choice(QUESTIONS)} {rng.choice(DETAILS).format(n=rng.randint(1000, 99999))}" for _ in range(args.messages)]
    for start in range(0, len(texts), 16):
        bundle.predict_many(texts[start : start + 16])
        bundle.evidence_many(texts[start : start + 16])
    steps[f"after_{args.messages}_messages"] = rss_mb()
    print(json.dumps({"rss_mb": steps, "heavy_modules": [m for m in HEAVY if m in sys.modules]}))


if __name__ == "__main__":
    main()
