"""`manage.py content_gaps --site KEY [--days N] --json`: recompute a site's content gaps now."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.models import Site
from insights import gaps
from insights.metrics import MAX_DAYS


class Command(BaseCommand):
    help = "Group the questions the bot did not answer well into topics (largest first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="the site's public key")
        parser.add_argument("--days", type=int, default=30, help="the last N days (default 30)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(public_key=options["site"]).first()
        if site is None:
            raise CommandError(f"no site with key {options['site']!r}")
        if not 1 <= options["days"] <= MAX_DAYS:
            raise CommandError(f"--days must be from 1 to {MAX_DAYS}")
        run = gaps.compute(gaps.start(site.pk, options["days"]).pk)
        if run.status != run.Status.DONE:
            raise CommandError(f"content gaps failed: {run.error}")
        topics = sorted(run.topics.all(), key=lambda t: (-t.size, t.rank))
        if options["json"]:
            self.stdout.write(json.dumps({
                "run": run.pk, "messages": run.messages, "encoder": run.encoder,
                "topics": [{"id": t.pk, "size": t.size, "customers": t.customers, "label": t.label,
                            "trend": t.trend, "reasons": t.reasons, "samples": t.samples} for t in topics],
            }))
            return
        self.stdout.write(f"{run.messages} questions, {len(topics)} topics ({run.encoder})")
        for topic in topics:
            self.stdout.write(f"{topic.size:5} msgs {topic.customers:5} customers  {topic.trend:7}  {topic.label}")
