"""`manage.py insights --site KEY [--days N] --json`: the dashboard's figures for one site."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from insights.management.site_options import add_site_options, site_and_days
from insights.metrics import last_days, summarize


class Command(BaseCommand):
    help = "A site's conversations, containment, handoff, fallback, clarify, satisfaction and thumbs over the last N days."

    def add_arguments(self, parser: CommandParser) -> None:
        add_site_options(parser, "the last N days, today included (default 30)")

    def handle(self, *args: Any, **options: Any) -> None:
        site, days = site_and_days(options)
        figures = summarize(site, *last_days(days)).as_json()
        if options["json"]:
            self.stdout.write(json.dumps(figures))
            return
        for key, value in figures.items():
            if key != "by_model_version":
                self.stdout.write(f"{key:28} {value}")
        for version in figures["by_model_version"]:
            self.stdout.write(f"version {version['version'] or '(none)'}: {version['conversations']} conversations, "
                              f"containment {version['containment_rate']}, fallback {version['fallback_rate']}")
