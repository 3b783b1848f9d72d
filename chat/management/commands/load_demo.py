"""Load the demo bot: the `demo` site, its intents and answers, examples and past tickets."""

import csv
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from chat.models import Intent, Site

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


class Command(BaseCommand):
    help = "Create or update the demo site and bot content (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options):
        Site.objects.update_or_create(
            public_key="demo",
            defaults={
                "name": "Demo shop",
                "allowed_origins": "http://localhost:*\nhttp://127.0.0.1:*\nhttp://[::1]:*",
                "greeting": "Hi! I'm the demo shop's assistant. Ask me about orders, shipping, returns or payments.",
            },
        )
        with open(DEMO_DIR / "answers.csv", newline="") as f:
            for row in csv.DictReader(f):
                Intent.objects.update_or_create(
                    name=row["intent"],
                    defaults={
                        "description": row["description"],
                        "answer": row["answer"],
                        "quick_replies": [q for q in row["quick_replies"].split("|") if q],
                        "handoff": row["handoff"] == "1",
                    },
                )
        call_command("import_intents", str(DEMO_DIR / "intents.csv"), oos_label="oos", verbosity=0)
        call_command("import_tickets", str(DEMO_DIR / "tickets.csv"), approved=True, verbosity=0)
        self.stdout.write("Demo site 'demo' loaded.")
