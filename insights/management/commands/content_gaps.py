"""`manage.py content_gaps --site KEY [--days N] --json`: recompute a site's content gaps now."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from insights import gaps
from insights.management.site_options import add_site_options, site_and_days


class Command(BaseCommand):
    help = "Group the questions the bot did not answer well into topics (largest first)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_site_options(parser, "the last N days (default 30)")

    def handle(self, *args: Any, **options: Any) -> None:
        site, days = site_and_days(options)
        run = gaps.compute(gaps.start(site.pk, days).pk)
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
