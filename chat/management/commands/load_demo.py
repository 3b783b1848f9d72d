"""Load the demo bot: the `demo` site, its intents and answers, examples and past tickets.

Safe on every start (`make run` calls it): what is missing is added, what exists is left as
it is. An owner's edits to the demo site (allowed origins, greeting) and to the demo's answers
survive restarts, and a demo ticket already stored (under any status: an owner who rejected it
meant it) is never added again.
"""

import csv
import io
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from chat.models import Site
from knowledge.models import Intent, Ticket

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_SITE = {
    "name": "Demo shop",
    "allowed_origins": "http://localhost:*\nhttp://127.0.0.1:*\nhttp://[::1]:*",
    "greeting": "Hi! I'm the demo shop's assistant. Ask me about orders, shipping, returns or payments.",
}


def _rows(name: str) -> list[dict[str, str]]:
    with open(DEMO_DIR / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_demo() -> dict[str, int]:
    """Add the parts of the demo that are missing; return how many of each were added."""
    _, site_created = Site.objects.get_or_create(public_key="demo", defaults=DEMO_SITE)
    intents_added = 0
    for row in _rows("answers.csv"):
        _, created = Intent.objects.get_or_create(
            name=row["intent"],
            defaults={
                "description": row["description"],
                "answer": row["answer"],
                "quick_replies": [q for q in row["quick_replies"].split("|") if q],
                "handoff": row["handoff"] == "1",
            },
        )
        intents_added += created
    # Examples are added only when missing (import_intents skips an example already stored).
    call_command("import_intents", str(DEMO_DIR / "intents.csv"), oos_label="oos", stdout=io.StringIO())
    stored = set(Ticket.objects.values_list("question", flat=True))
    now = timezone.now()
    tickets = [
        Ticket(question=row["question"], resolution=row["answer"], status=Ticket.Status.APPROVED, approved_at=now)
        for row in _rows("tickets.csv")
        if row["question"] not in stored
    ]
    Ticket.objects.bulk_create(tickets)
    return {"site": int(site_created), "intents": intents_added, "tickets": len(tickets)}


class Command(BaseCommand):
    help = "Add the demo site and bot content where missing (never overwrites, safe on every start)."

    @transaction.atomic
    def handle(self, *args, **options):
        added = load_demo()
        self.stdout.write(
            f"Demo site 'demo': {added['site']} site, {added['intents']} intents and "
            f"{added['tickets']} tickets added."
        )
