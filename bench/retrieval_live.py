"""How long until a ticket approved by another process is found by a running process's search.

    .venv/bin/python bench/retrieval_live.py [--tickets ../shared/data/banking77/train.csv]

Works on a throwaway SQLite database and artifacts directory (nothing live is touched):
migrate, import the tickets approved, build the index as a retrain would, load it as a web
process does (retrieval.ingest.LiveIndex, BUNDLE_POLL_SECONDS from settings), then approve a
new ticket from a separate `manage.py import_tickets --approved` process and search for it
every 100 ms. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEW_QUESTION = "my replacement card was delivered to my old address by mistake"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", default=str(ROOT.parent / "shared" / "data" / "banking77" / "train.csv"))
    parser.add_argument(
        "--intent-dir",
        default=str(ROOT / "bench" / "out" / "intent-banking77"),
        help="exported intent model (as bench_index caches it); the lexical encoder when absent",
    )
    args = parser.parse_args()
    workspace = Path(tempfile.mkdtemp(prefix="retrieval-live-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workspace / 'db.sqlite3'}",
        "ARTIFACTS_DIR": str(workspace / "artifacts"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True)
    subprocess.run(
        [*manage, "import_tickets", args.tickets, "--question-column", "text", "--answer-column", "text",
         "--intent-column", "category", "--approved", "--json"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    from retrieval.ingest import LiveIndex, build_ticket_index

    intents = None
    if (Path(args.intent_dir) / "labels.json").exists():
        from serving.intents import IntentModel

        intents = IntentModel.load(Path(args.intent_dir))
    started = time.perf_counter()
    build_ticket_index(intents, workspace / "index")
    build_seconds = time.perf_counter() - started
    live = LiveIndex.load(workspace / "index", intents)
    live.search("warm-up", 1)

    new_csv = workspace / "new.csv"
    new_csv.write_text(f"question,answer\n{NEW_QUESTION},We will send a new card to your current address.\n")
    subprocess.run([*manage, "import_tickets", str(new_csv), "--approved"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    approved_at = time.perf_counter()
    from knowledge.models import Ticket

    new_id = Ticket.objects.get(question=NEW_QUESTION).id
    seen_after = None
    while time.perf_counter() - approved_at < 120:
        hits = live.search(NEW_QUESTION, 1)
        if hits and hits[0][0] == new_id:
            seen_after = time.perf_counter() - approved_at
            break
        time.sleep(0.1)
    print(json.dumps({
        "tickets": len(live) - (1 if seen_after else 0),
        "encoder": "intent" if intents is not None else "lexical",
        "build_seconds": round(build_seconds, 1),
        "poll_seconds": settings.BUNDLE_POLL_SECONDS,
        "seconds_until_found": None if seen_after is None else round(seen_after, 2),
        "found_within_a_minute": seen_after is not None and seen_after < 60,
    }))


if __name__ == "__main__":
    main()
