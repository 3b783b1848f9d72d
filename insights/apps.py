from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from chat.models import Erasure

        # Chat sits below and knows nothing of insights: an erasure is heard here, in its transaction.
        post_save.connect(_erased, sender=Erasure, dispatch_uid="insights.forget_erased")


def _erased(sender: object, created: bool = False, **kwargs: object) -> None:
    if created:
        from insights.gaps import forget_erased

        forget_erased()
