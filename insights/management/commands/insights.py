"""`manage.py insights --site KEY [--days N] --json`: the dashboard's figures for one site."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.models import Site
from insights.metrics import MAX_DAYS, last_days, summarize


class Command(BaseCommand):
    help = "A site's conversations, containment, handoff, fallback, clarify, satisfaction and thumbs over the last N days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="the site's public key")
        parser.add_argument("--days", type=int, default=30, help="the last N days, today included (default 30)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(public_key=options["site"]).first()
        if site is None:
            raise CommandError(f"no site with key {options['site']!r}")
        if not 1 <= options["days"] <= MAX_DAYS:
            raise CommandError(f"--days must be from 1 to {MAX_DAYS}")
        figures = summarize(site, *last_days(options["days"])).as_json()
        if options["json"]:
            self.stdout.write(json.dumps(figures))
            return
        for key, value in figures.items():
            if key != "by_model_version":
                self.stdout.write(f"{key:28} {value}")
        for version in figures["by_model_version"]:
            self.stdout.write(f"version {version['version'] or '(none)'}: {version['conversations']} conversations, "
                              f"containment {version['containment_rate']}, fallback {version['fallback_rate']}")
