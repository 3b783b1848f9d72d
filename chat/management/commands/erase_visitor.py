import json

from django.core.management.base import BaseCommand, CommandError

from chat.retention import erase_visitor, find_visitors


class Command(BaseCommand):
    help = ("Erase a visitor (by visitor id or conversation id), or every visitor who left an email or wrote it "
            "in a message, and everything derived from them.")

    def add_arguments(self, parser):
        parser.add_argument("reference")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, reference, as_json, **options):
        visitors = find_visitors(reference)
        if not visitors:
            raise CommandError("no visitor matches that id, conversation id or email")
        erasures = [erase_visitor(visitor) for visitor in visitors]
        counts: dict[str, int] = {}
        for erasure in erasures:
            for kind, n in erasure.counts.items():
                counts[kind] = counts.get(kind, 0) + n
        counts["visitors"] = len(erasures)
        payload = {"erasures": [erasure.pk for erasure in erasures], "counts": counts}
        self.stdout.write(json.dumps(payload) if as_json else f"Erased: {counts}")
