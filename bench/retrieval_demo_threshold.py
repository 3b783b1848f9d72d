"""Demo bot: nearest-ticket scores of paraphrases of its 12 tickets vs 12 unrelated questions.

Written for the first demo shop (12 tickets, until commit 4ba5754) and kept for the figures of
docs/retrieval.md; its paraphrase lists pair with that demo's tickets in file order, so run it
on a checkout of that commit. The shop demo of today is judged by bench/conversations.py.

Usage (after `migrate`, `load_demo` and `retrain` against the same DATABASE_URL/ARTIFACTS_DIR):

    DATABASE_URL=sqlite:////tmp/x.sqlite3 ARTIFACTS_DIR=/tmp/x \
        .venv/bin/python bench/retrieval_demo_threshold.py [--kind hybrid|base|lexical]

Loads the active bundle as the web process does (serving.registry.LoadedBundle), or, with --kind,
rebuilds its index with that encoder into a temporary directory. Prints one JSON object: the
index's calibrated threshold, every score, whether the nearest ticket is the right one, and
how many paraphrases / unrelated questions the reply policy's bar lets through, and (without
--kind) what chat.replies.respond actually answers each with (a curated answer may come first).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# One rewording per ticket of chat/demo/tickets.csv, in file order, as a customer would type it:
# the topic's key word stays (who asks about Canada says "Canada"), the rest of the wording changes.
PARAPHRASES = [
    "my parcel came damaged and the item inside is broken",
    "can you gift wrap my order?",
    "do you deliver to Canada?",
    "this item is sold out, when will you restock it?",
    "can I get an invoice with our VAT number on it?",
    "can I exchange these shoes for a bigger size?",
    "you charged my card twice for one order",
    "tracking says my parcel was delivered but I never received it",
    "can I collect my order from one of your shops?",
    "can I buy a gift card?",
    "I want to delete my account",
    "the price dropped after I bought it, can I get the difference back?",
]
# Harder rewordings that share no key word with their ticket (reported apart: a lexical
# encoder cannot know that Toronto is in Canada).
HARD_PARAPHRASES = [
    "the parcel came smashed and the plate in it is cracked",
    "can you wrap my order as a present?",
    "do you deliver to Toronto?",
    "when will the sold out sneakers be available again?",
    "I need a receipt that shows our business tax number",
    "these shoes are too small, can I swap them for a bigger pair?",
    "my card was billed two times for one purchase",
    "tracking says delivered but nothing was at my door",
    "can I collect my purchase at your shop?",
    "do you have gift vouchers?",
    "please remove my account and all my personal information",
    "the price went down right after I ordered, can you refund the difference?",
]
# Questions no ticket (and no curated intent) answers: shop questions and plain noise.
UNRELATED = [
    "what's the weather like tomorrow",
    "tell me a joke",
    "who won the football match last night",
    "do you have a loyalty program?",
    "are your products vegan?",
    "how do I become a reseller?",
    "is the app available on Android?",
    "what is the capital of France",
    "are you hiring at the moment?",
    "what size should I choose for jeans?",
    "can I book a table for two tonight",
    "my cat keeps scratching the sofa",
]


def policy_sources(*groups: list[str]) -> list[list[str]]:
    """What the reply policy answers each text with (answer/ticket/clarify/fallback), in a throwaway chat."""
    from chat import replies
    from chat.models import Conversation, Site, Visitor

    site = Site.objects.first()
    conversation = Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site))
    sources = []
    for texts in groups:
        answered = []
        for text in texts:
            reply = replies.respond(conversation.pk, text, Conversation.Status.BOT)
            message = reply.messages[0] if reply.messages else None
            answered.append(f"{message.source}:{message.intent}" if message else "silent")
        sources.append(answered)
    conversation.delete()
    return sources


def main() -> None:
    import django

    django.setup()
    from serving.registry import LoadedBundle, active_version, bundles_dir
    from retrieval.ingest import LiveIndex, build_ticket_index
    from knowledge.models import Ticket

    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", default=None, help="rebuild the index with this encoder kind")
    args = parser.parse_args()

    bundle = LoadedBundle(bundles_dir() / active_version())
    index = bundle.index
    if args.kind:
        workspace = Path(tempfile.mkdtemp())
        build_ticket_index(bundle.intents, workspace, encoder_kind=args.kind)
        index = LiveIndex.load(workspace, bundle.intents, poll_seconds=3600)
    approved = Ticket.objects.filter(status=Ticket.Status.APPROVED).order_by("id")
    questions = list(approved.values_list("id", flat=True))
    bar = float(getattr(index, "min_score", 0.8))

    def best(text: str) -> tuple[int, float]:
        hits = index.search(text, 1)
        return hits[0] if hits else (-1, 0.0)

    para = [best(t) for t in PARAPHRASES]
    hard = [best(t) for t in HARD_PARAPHRASES]
    unrelated = [best(t) for t in UNRELATED]
    result = {
        "bundle": bundle.version,
        "encoder": args.kind or json.loads((bundle.directory / "index" / "encoder.json").read_text()),
        "dim": index.dim,
        "min_score": round(bar, 4),
        "paraphrase_scores": [round(s, 3) for _, s in para],
        "paraphrase_right_ticket": [i == questions[n] for n, (i, _) in enumerate(para)],
        "hard_paraphrase_scores": [round(s, 3) for _, s in hard],
        "hard_paraphrase_right_ticket": [i == questions[n] for n, (i, _) in enumerate(hard)],
        "hard_paraphrases_answered": sum(s >= bar and i == questions[n] for n, (i, s) in enumerate(hard)),
        "unrelated_scores": [round(s, 3) for _, s in unrelated],
        "paraphrases_answered": sum(s >= bar and i == questions[n] for n, (i, s) in enumerate(para)),
        "unrelated_answered": sum(s >= bar for _, s in unrelated),
        "calibration": index.index.meta.get("threshold"),
    }
    if not args.kind:
        result["replies"] = policy_sources(PARAPHRASES, HARD_PARAPHRASES, UNRELATED)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
