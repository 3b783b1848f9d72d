"""How soon a ticket approved while the bot serves answers paraphrases of its question.

Usage (prepares its work directory as bench/conversations.py does, sharing it):

    .venv/bin/python bench/ticket_approval.py [--workdir DIR]

Against the demo bot of `--workdir` (default var/bench-conversations), in-process as a web
process serves: asks each paraphrase once (the ticket is unknown: the answer is recorded),
approves a new ticket on a topic no demo intent or ticket covers through
knowledge.tickets.approve_ticket, then asks the paraphrases again every second through the real
reply policy until each is answered with the new ticket or 90 seconds pass. Prints JSON: the
poll interval, and per paraphrase the answer before and the seconds until the ticket answered.
The ticket is rejected again at the end, so the work directory stays as it was.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conversations import ROOT, configure, outcome, prepare  # noqa: E402

QUESTION = "The mobile app crashes every time I upload a photo of my cheque"
RESOLUTION = "Cheque photos over 10 MB crashed version 3.3 of the app; version 3.3.1 fixes it."
PARAPHRASES = [
    "app keeps crashing when i try to upload a cheque picture",
    "your app closes whenever I add a photo of a cheque",
    "uploading my cheque image makes the app crash",
]
LIMIT_SECONDS = 90


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench-conversations")
    args = parser.parse_args()
    configure(args.workdir)
    model = prepare(retrain=False)
    from django.conf import settings

    from chat import replies
    from chat.conversations import open_conversation
    from chat.models import Site
    from knowledge.models import Ticket
    from knowledge.tickets import approve_ticket, reject_ticket

    site = Site.objects.get(public_key="demo")

    def ask(text: str) -> tuple[str, int | None]:
        conversation, _ = open_conversation(site, None)
        reply = replies.respond(conversation.pk, text)
        done, _ = outcome(reply, {})
        ticket = reply.messages[-1].ticket_id if reply.messages and done.startswith("ticket:") else None
        return done, ticket

    before = {text: ask(text)[0] for text in PARAPHRASES}
    ticket = Ticket.objects.create(question=QUESTION, resolution=RESOLUTION)
    approve_ticket(ticket)
    approved = time.monotonic()
    seconds: dict[str, float | None] = dict.fromkeys(PARAPHRASES)
    try:
        while any(s is None for s in seconds.values()) and time.monotonic() - approved < LIMIT_SECONDS:
            for text in PARAPHRASES:
                if seconds[text] is None and ask(text)[1] == ticket.pk:
                    seconds[text] = round(time.monotonic() - approved, 1)
            time.sleep(1)
    finally:
        reject_ticket(ticket)
    print(json.dumps({
        **model,
        "bundle_poll_seconds": settings.BUNDLE_POLL_SECONDS,
        "ticket": QUESTION,
        "paraphrases": [{"text": t, "before": before[t], "seconds_until_ticket": seconds[t]} for t in PARAPHRASES],
    }, indent=2))


if __name__ == "__main__":
    main()
