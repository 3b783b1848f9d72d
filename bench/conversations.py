"""The demo bot against held-out shop conversations: right actions and confidently wrong ones.

Usage:

    .venv/bin/python bench/conversations.py [SET.jsonl ...] [--workdir DIR] [--retrain] [--details]

Runs every message of each set (default: bench/data/shop_heldout.jsonl; format in
bench/data/README.md) through the real reply policy (chat.replies.respond), each in a fresh chat
of the demo site, in-process against a throwaway SQLite database and artifacts directory in
`--workdir` (default var/bench-conversations). The first run there migrates, loads the demo
(manage.py load_demo) and trains the demo model (manage.py retrain, minutes on 2 cores); later
runs reuse that model unless `--retrain`. Prints one JSON object: per set, the right-action rate
and the confidently-wrong rate (a curated answer or a ticket that is not among the acceptable
outcomes), overall and per category, and with `--details` every message's outcome.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_SET = ROOT / "bench" / "data" / "shop_heldout.jsonl"


def configure(workdir: Path) -> None:
    """Point Django at the bench's own database and artifacts before it starts."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir.resolve() / 'db.sqlite3'}"
    os.environ["ARTIFACTS_DIR"] = str(workdir.resolve() / "artifacts")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def prepare(retrain: bool) -> dict:
    """Migrate, load the demo, and train its model when none is active (or when asked)."""
    from django.core.management import call_command

    from serving import registry

    call_command("migrate", verbosity=0)
    call_command("load_demo", verbosity=0, stdout=open(os.devnull, "w"))
    trained = False
    if retrain or not registry.active_version():
        started = time.monotonic()
        call_command("retrain", verbosity=0, stdout=open(os.devnull, "w"))
        trained = round(time.monotonic() - started, 1)
    return {"model_version": registry.active_version(), "trained_seconds": trained}


def ticket_keys() -> dict[str, str]:
    """Demo ticket question → its stable key (chat/demo/tickets.csv)."""
    from chat.management.commands.load_demo import DEMO_DIR

    with open(DEMO_DIR / "tickets.csv", newline="", encoding="utf-8") as f:
        return {row["question"]: row["key"] for row in csv.DictReader(f)}


def outcome(reply, keys: dict[str, str]) -> tuple[str, dict]:
    """What the bot did, in the vocabulary of the sets' `accept` lists, and the recorded why."""
    if reply.handoff:
        return "handoff", {"source": "handoff", "intent": "", "confidence": None}
    if not reply.messages:
        return "silent", {"source": "", "intent": "", "confidence": None}
    message = reply.messages[-1]
    why = {"source": message.source, "intent": message.intent, "confidence": message.confidence}
    if message.source == "answer":
        return f"answer:{message.intent}", why
    if message.source == "ticket":
        question = message.ticket.question if message.ticket else ""
        return f"ticket:{keys.get(question, question[:40])}", why
    if message.source == "fallback" and message.intent.startswith("language:"):
        return "language", why
    if message.source == "offer":
        # Frustration answered with an offer of a person: the fallback's honest non-answer.
        return "fallback", why
    return message.source or "none", why


def run_set(path: Path, keys: dict[str, str], details: bool) -> dict:
    from chat import replies
    from chat.conversations import open_conversation
    from chat.models import Site

    site = Site.objects.get(public_key="demo")
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    tally: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "right": 0, "confidently_wrong": 0})
    rows = []
    for item in items:
        conversation, _ = open_conversation(site, None)
        done, why = outcome(replies.respond(conversation.pk, item["text"]), keys)
        right = done in item["accept"]
        wrong = not right and done.startswith(("answer:", "ticket:"))
        for group in ("overall", item["category"]):
            tally[group]["n"] += 1
            tally[group]["right"] += right
            tally[group]["confidently_wrong"] += wrong
        if details:
            rows.append({"text": item["text"], "category": item["category"], "accept": item["accept"],
                         "outcome": done, "right": right, **why})

    def rates(counts: dict[str, int]) -> dict:
        n = counts["n"]
        return {"n": n, "right_action": round(counts["right"] / n, 3),
                "confidently_wrong": round(counts["confidently_wrong"] / n, 3)}

    result = {"set": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
              "overall": rates(tally.pop("overall")),
              "per_category": {name: rates(counts) for name, counts in sorted(tally.items())}}
    if details:
        result["details"] = rows
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path, default=[DEFAULT_SET])
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench-conversations")
    parser.add_argument("--retrain", action="store_true", help="train a new demo model even if one is active")
    parser.add_argument("--details", action="store_true", help="every message's outcome and recorded reason")
    args = parser.parse_args()
    configure(args.workdir)
    model = prepare(args.retrain)
    keys = ticket_keys()
    print(json.dumps({**model, "results": [run_set(path.resolve(), keys, args.details) for path in args.sets]},
                     indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
