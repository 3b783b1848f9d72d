"""`manage.py redact "TEXT"`: print TEXT with personal data replaced by placeholders."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from privacy.redaction import redact_counted


class Command(BaseCommand):
    help = "Print TEXT with emails, phones, cards, IBANs, SSNs and IPs replaced by [KIND]."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text", help="the text to redact")
        parser.add_argument("--json", action="store_true", help='print {"text", "redacted", "found"}')

    def handle(self, *args: Any, **options: Any) -> None:
        redacted, found = redact_counted(options["text"])
        if options["json"]:
            payload = {"text": options["text"], "redacted": redacted, "found": found}
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
        else:
            self.stdout.write(redacted)
