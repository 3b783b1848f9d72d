import json

from django.core.management.base import BaseCommand, CommandError

from chat.retention import erase_visitor, find_visitor


class Command(BaseCommand):
    help = "Erase a visitor (by visitor id, conversation id or email) and everything derived from them."

    def add_arguments(self, parser):
        parser.add_argument("reference")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, reference, as_json, **options):
        visitor = find_visitor(reference)
        if visitor is None:
            raise CommandError("no visitor matches that id, conversation id or email")
        erasure = erase_visitor(visitor)
        payload = {"erasure": erasure.pk, "counts": erasure.counts}
        self.stdout.write(json.dumps(payload) if as_json else f"Erased: {erasure.counts}")
