from django.core.management.base import BaseCommand, CommandError

from serving import registry


class Command(BaseCommand):
    help = "Make VERSION the active model bundle in every web process (roll back or forward)."

    def add_arguments(self, parser):
        parser.add_argument("version")

    def handle(self, *args, version, **options):
        try:
            registry.activate_version(version)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            raise CommandError(f"bundle {version} does not load, not activated: {exc}") from exc
        self.stdout.write(f"Active model is now {version}.")
