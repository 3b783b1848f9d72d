"""The options both insights commands take: `--site KEY [--days N] [--json]`, checked the same way."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from chat.models import Site
from insights.metrics import MAX_DAYS


def add_site_options(parser: CommandParser, days_help: str) -> None:
    parser.add_argument("--site", required=True, help="the site's public key")
    parser.add_argument("--days", type=int, default=30, help=days_help)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def site_and_days(options: dict[str, Any]) -> tuple[Site, int]:
    """The site named by --site and the checked --days, or a CommandError saying what is wrong."""
    site = Site.objects.filter(public_key=options["site"]).first()
    if site is None:
        raise CommandError(f"no site with key {options['site']!r}")
    if not 1 <= options["days"] <= MAX_DAYS:
        raise CommandError(f"--days must be from 1 to {MAX_DAYS}")
    return site, options["days"]
