"""How well the demo bot's ticket space separates ticket paraphrases from unrelated messages.

Usage:

    .venv/bin/python bench/ticket_space.py [--workdir DIR] [--dims 256,1024] [--weights 0.6] [SET.jsonl]

Reads the demo model and content that `bench/conversations.py --workdir DIR` trained and loaded
(run it first), refits the ticket encoder's lexical half at each dimension and lexical weight on
the same texts the retraining pipeline fits it on (approved tickets plus training examples),
and for the set's (default bench/data/shop_dev.jsonl; tune on that one only) ticket paraphrases
reports: how often the nearest ticket is an acceptable one (`top1`), the median score of the
best acceptable ticket, the 90th percentile of unrelated messages' (out of scope, vague, other
language, person, frustration) best ticket score, the share of paraphrases above it, the
probability that a paraphrase's acceptable ticket outscores an unrelated message's best ticket
(`auc`), and the share whose acceptable ticket beats the nearest out-of-scope example. The reply
policy is not run: for that, bench/conversations.py. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

UNRELATED = ("out_of_scope", "vague", "other_language", "person", "frustration")


class CachedEncoder:
    """The intent model's sentence vectors, each text embedded once across all variants."""

    def __init__(self, model) -> None:
        self.model, self.dim, self.cache = model, model.dim, {}

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.model.embed(missing), strict=True))
        return np.array([self.cache[text] for text in texts], np.float32).reshape(len(texts), self.dim)


def separation(encoder, tickets: list[str], ticket_keys: list[str], examples: list[str],
               out_of_scope: np.ndarray, items: list[dict]) -> dict:
    from retrieval.encoder import embed_documents

    scores = encoder.embed([item["text"] for item in items]) @ embed_documents(encoder, tickets).T
    example_scores = encoder.embed([item["text"] for item in items]) @ embed_documents(encoder, examples).T
    top1, right, beats_oos, unrelated = 0, [], 0, []
    for i, item in enumerate(items):
        if item["category"] == "ticket_paraphrase":
            accept = {a.removeprefix("ticket:") for a in item["accept"] if a.startswith("ticket:")}
            top1 += ticket_keys[int(scores[i].argmax())] in accept
            best = max((scores[i, j] for j, key in enumerate(ticket_keys) if key in accept), default=0.0)
            right.append(float(best))
            beats_oos += best > example_scores[i, out_of_scope].max()
        elif item["category"] in UNRELATED:
            unrelated.append(float(scores[i].max()))
    r, u = np.array(right), np.array(unrelated)
    p90 = float(np.quantile(u, 0.9))
    return {"paraphrases": len(r), "top1": top1, "right_median": round(float(np.median(r)), 3),
            "unrelated_p90": round(p90, 3), "above_unrelated_p90": round(float((r > p90).mean()), 3),
            "auc": round(float((r[:, None] > u[None, :]).mean()), 3),
            "beats_out_of_scope": round(beats_oos / len(r), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", nargs="?", type=Path, default=ROOT / "bench" / "data" / "shop_dev.jsonl")
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench-conversations")
    parser.add_argument("--dims", default="256,512,768,1024")
    parser.add_argument("--weights", default="0.6")
    args = parser.parse_args()
    from conversations import configure, ticket_keys

    configure(args.workdir)
    from knowledge.models import Ticket
    from retrieval.encoder import HybridEncoder, LexicalEncoder
    from retrieval.ingest import index_text
    from serving import registry
    from serving.intents import IntentModel
    from training.pipeline import dataset

    version = registry.active_version()
    base = CachedEncoder(IntentModel.load(registry.bundles_dir() / version / "intent"))
    texts, intents = dataset()
    keys = ticket_keys()
    questions = list(Ticket.objects.filter(status=Ticket.Status.APPROVED).order_by("id").values_list("question", flat=True))
    tickets = [index_text(question) for question in questions]
    examples = [index_text(text) for text in texts]
    out_of_scope = np.array([intent is None for intent in intents])
    items = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    variants = []
    for dim in (int(d) for d in args.dims.split(",")):
        lexical = LexicalEncoder.fit(tickets + texts, dim, unit=False)  # what fit_ticket_encoder fits
        for weight in (float(w) for w in args.weights.split(",")):
            encoder = HybridEncoder(base, lexical, weight)
            variants.append({"lexical_dim": lexical.dim, "lexical_weight": weight,
                             **separation(encoder, tickets, [keys.get(q, q[:40]) for q in questions],
                                          examples, out_of_scope, items)})
    print(json.dumps({"model_version": version, "set": str(args.set.relative_to(ROOT) if args.set.is_relative_to(ROOT) else args.set),
                      "fitted_texts": len(tickets) + len(texts), "variants": variants}, indent=2))


if __name__ == "__main__":
    main()
