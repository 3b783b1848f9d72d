from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Not api.schema: drf-spectacular with the rest of DRF costs ~20 MB in every process that
        # sets Django up (answer helpers, Celery workers) and only the schema views need it, so
        # api/urls.py imports it beside them.
        from api import webhooks

        webhooks.connect()
