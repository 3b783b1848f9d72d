from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from api.keys import create_key
from chat.models import Site


class Command(BaseCommand):
    help = "Create an API key for a site (by public key or name) and print it once; only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("site", help="The site's public key (data-site) or its name.")
        parser.add_argument("--scopes", default="read", help="Comma-separated: read,write,admin (default read).")
        parser.add_argument("--name", default="", help="What uses the key (default: created by command).")
        parser.add_argument("--rate", type=int, default=None, help="Requests per minute (default API_RATE_PER_MINUTE).")

    def handle(self, *args: Any, site: str, scopes: str, name: str, rate: int | None, **options: Any) -> None:
        found = list(Site.objects.filter(Q(public_key=site) | Q(name=site))[:2])
        if len(found) != 1:
            raise CommandError(f"{'no' if not found else 'more than one'} site has the key or name {site!r}")
        try:
            new = create_key(found[0], name or "created by command", scopes, rate_per_minute=rate)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"API key for {found[0].name} with scopes {new.key.scopes} (shown once, keep it safe):")
        self.stdout.write(new.secret)
