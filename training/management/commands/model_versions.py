import json

from django.core.management.base import BaseCommand

from training.versions import list_versions


class Command(BaseCommand):
    help = "List model versions with their status and metrics."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, as_json: bool = False, **options):
        rows = list_versions()
        if as_json:
            self.stdout.write(json.dumps({"versions": rows}))
            return
        for row in rows:
            mark = "*" if row["active"] else " "
            self.stdout.write(f"{mark} {row['version']}  {row['status']}  accuracy={row['metrics'].get('accuracy')}")
